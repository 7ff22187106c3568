/** Every item of a paginated listing: calls `list` with each continue_at until it is empty. */
export async function allPages<T>(list: (continueAt: string) => Promise<Record<string, unknown>>, field: string): Promise<T[]> {
  const items: T[] = [];
  let at = "";
  do {
    const page = await list(at);
    items.push(...page[field] as T[]);
    at = page.continue_at as string;
  } while (at);
  return items;
}
