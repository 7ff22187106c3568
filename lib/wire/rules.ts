/** Rules (command → patterns) in their wire form: map<command, RuleSet{rules: map<pattern, Rule{}>}>. */
export function ruleSets(rules: Readonly<Record<string, readonly string[]>>): Record<string, { rules: Record<string, object> }> {
  return Object.fromEntries(Object.entries(rules).map(([cmd, patterns]) => [cmd, { rules: Object.fromEntries(patterns.map((p) => [p, {}])) }]));
}
