/** Finds the line of the YAML node a problem's path points at, so people can jump to it. */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/**
 * The line of the node at `path`, or of its deepest ancestor present in the file (a missing key
 * points at the mapping that lacks it). With `atKey`, the last step stops at the key itself,
 * which is where an unknown key is.
 */
export function lineOf(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  atKey = false,
): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const [index, key] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
      if (!pair) break;
      const valueStart = atKey && index === path.length - 1 ? undefined : rangeStart(pair.value);
      node = pair.value;
      offset = valueStart ?? rangeStart(pair.key) ?? offset;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (node === undefined) break;
      offset = rangeStart(node) ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
