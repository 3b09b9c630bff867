import { strict as assert } from "assert";
import { ConfigError } from "../../../components/config";

/** The problems a parser reports for input that must be refused; fails the test if it is accepted. */
export function configProblems(parse: () => unknown): string[] {
    try {
        parse();
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return (e as ConfigError).problems;
    }
    assert.fail("the config was accepted");
}
