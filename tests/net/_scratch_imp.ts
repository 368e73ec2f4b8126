import "../../lib/emulators/tls.ts";
