/**
 * Deploy batches from service dependencies: strongly connected components (Tarjan, explicit stack)
 * condensed into a DAG, each component placed one batch after the latest batch it depends on.
 */

/**
 * Batches in which to deploy `services`: a service only depends on services of earlier batches,
 * except that services depending on each other in a cycle share a batch (deployed in parallel, as
 * Railway does). Dependencies outside `services` and self-dependencies are ignored; duplicates in
 * `services` are dropped. Within a batch, services keep their order in `services`.
 */
export function deployOrder(services: string[], dependsOn: (s: string) => string[]): string[][] {
  const names = [...new Set(services)];
  const index = new Map(names.map((name, i) => [name, i]));
  const edges = names.map((name) => {
    const targets = new Set<number>();
    for (const dep of dependsOn(name)) {
      const j = index.get(dep);
      if (j !== undefined && dep !== name) targets.add(j);
    }
    return [...targets];
  });

  // Tarjan numbers components in reverse topological order: dependencies come first.
  const { component, count } = tarjan(edges);
  const members: number[][] = Array.from({ length: count }, () => []);
  component.forEach((c, i) => {
    members[c].push(i);
  });
  const level = new Array<number>(count).fill(0);
  for (let c = 0; c < count; c++) {
    for (const i of members[c]) {
      for (const j of edges[i]) {
        const d = component[j];
        if (d !== c) level[c] = Math.max(level[c], level[d] + 1);
      }
    }
  }

  const batches: string[][] = [];
  names.forEach((name, i) => {
    const l = level[component[i]];
    while (batches.length <= l) batches.push([]);
    batches[l].push(name);
  });
  return batches.filter((b) => b.length > 0);
}

/** Component number of each vertex; components are numbered in reverse topological order. */
function tarjan(edges: number[][]): { component: number[]; count: number } {
  const n = edges.length;
  const order = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const component = new Array<number>(n).fill(-1);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  let counter = 0;
  let components = 0;

  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    const work: { v: number; edge: number }[] = [{ v: root, edge: 0 }];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (work.length > 0) {
      const top = work[work.length - 1];
      const { v } = top;
      if (top.edge < edges[v].length) {
        const w = edges[v][top.edge++];
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          work.push({ v: w, edge: 0 });
        } else if (onStack[w]) {
          low[v] = Math.min(low[v], order[w]);
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].v;
        low[parent] = Math.min(low[parent], low[v]);
      }
      if (low[v] === order[v]) {
        let w: number;
        do {
          w = stack.pop() as number;
          onStack[w] = false;
          component[w] = components;
        } while (w !== v);
        components++;
      }
    }
  }
  return { component, count: components };
}
