// Entry point for `pulumi preview` / `pulumi up`: the engine calls the exported function and
// publishes what it returns as the stack outputs.
import { program } from "./components/program";

export = program;
