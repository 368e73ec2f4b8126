import {createTestCA} from "../../lib/emulators/tls.ts"; const c = await createTestCA(); await c.issue(["127.0.0.1"]);
