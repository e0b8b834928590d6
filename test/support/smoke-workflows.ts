// A trivial workflow for the smoke test: proves the dev server, a worker and a client meet.
export async function greet(name: string): Promise<string> {
  return `hello, ${name}`;
}
