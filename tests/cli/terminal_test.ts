/**
 * `mcs auth login --wait` on a real terminal: the child runs under `script(1)`, which gives it a
 * pseudo-terminal, so the interactive path (URL, code, QR code, spinner) is what a person sees.
 * The test plays the person: it reads the URL and code off the screen, completes the steps at the
 * local stack, and the command finishes by itself.
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { startStack } from "../../lib/emulators/stack.ts";
import { CONFIG, MAIN, mcsEnv, ROOT_PATH } from "./_mcs.ts";
import { requires, testRequiring } from "../support/requires.ts";

/** `script -qfec CMD /dev/null`: run CMD on a pty, its screen on our stdout. */
function onTerminal(args: string[], env: Record<string, string>) {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const cmd = [Deno.execPath(), "run", "--no-prompt", "-P=mcs", "--config", CONFIG, MAIN, ...args]
    .map(quote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", cmd, "/dev/null"],
    cwd: ROOT_PATH,
    env: { ...mcsEnv(env), TERM: "xterm" },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = child.stderr.text();
  let screen = "";
  return {
    get screen() {
      return screen;
    },
    /** Read until `re` matches text that arrived after `from`. */
    async waitFor(re: RegExp, from = 0): Promise<RegExpExecArray> {
      for (;;) {
        const hit = re.exec(screen.slice(from));
        if (hit) return hit;
        const { value, done } = await reader.read();
        if (done) throw new Error(`ended before ${re}: ${screen}\n${await stderr}`);
        screen += value;
      }
    },
    async finish(): Promise<number> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        screen += value;
      }
      await child.stdin.close();
      await stderr;
      return (await child.status).code;
    },
  };
}

const script = requires(
  "script (bsdutils)",
  await Deno.stat("/usr/bin/script").then(() => true, () => false),
  { reason: "no /usr/bin/script to give the CLI a terminal (apt-get install bsdutils)" },
);

testRequiring(script, {
  name: "auth login --wait on a terminal: URL, code, QR code and spinner; finishes by itself",
  async fn() {
    const stack = await startStack();
    try {
      const term = onTerminal(["auth", "login", "--wait"], stack.env);
      const steps: string[] = [];
      let from = 0;
      for (const step of ["Sign in to authorize mcs", "allow mcs to use your Gmail account"]) {
        const shown = await term.waitFor(
          new RegExp(`${step}[\\s\\S]*?Open:\\s+(https://\\S+)[\\s\\S]*?Code:\\s+(\\S+)`),
          from,
        );
        from += shown.index + shown[0].length;
        await stack.userCompletes(shown[1], shown[2]);
        steps.push(step);
      }
      const code = await term.finish();
      assertEquals(code, 0, term.screen);
      assertEquals(steps.length, 2);
      // A QR code of the URL (Unicode half blocks), and a spinner while polling.
      assert(/[▀▄█]{8,}/.test(term.screen), "QR code drawn");
      assertStringIncludes(term.screen, "Waiting for you to finish in the browser");
      assert(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/.test(term.screen), "spinner frames");
      assertStringIncludes(term.screen, stack.auth0.user.email);
    } finally {
      await stack.close();
    }
  },
});
