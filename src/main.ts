/** The executable's entry: hands argv0, the arguments and the environment to the dispatcher, exits with its code. */
import { main } from "./cli/main.ts";

const code = await main(process.argv0 ?? process.argv[0], process.argv.slice(2), process.env, undefined, { ownProcess: true });
process.exitCode = code;
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(code);
