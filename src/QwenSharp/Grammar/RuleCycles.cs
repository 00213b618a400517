namespace QwenSharp.Grammar;

/// <summary>Strongly connected components of a directed graph (Tarjan's algorithm, iterative so that a long chain
/// of rules cannot overflow the stack): which nodes lie on a cycle.</summary>
internal static class RuleCycles
{
    /// <summary>onCycle[v]: v reaches itself through one edge or more.</summary>
    public static bool[] OnCycle(IReadOnlyList<IReadOnlyList<int>> edges)
    {
        int n = edges.Count, counter = 0;
        var index = new int[n];
        var low = new int[n];
        var onStack = new bool[n];
        var result = new bool[n];
        Array.Fill(index, -1);
        var stack = new Stack<int>();
        var work = new Stack<(int V, int Next)>();
        for (int root = 0; root < n; root++)
        {
            if (index[root] >= 0) continue;
            work.Push((root, 0));
            index[root] = low[root] = counter++;
            stack.Push(root);
            onStack[root] = true;
            while (work.Count > 0)
            {
                var (v, i) = work.Pop();
                if (i < edges[v].Count)
                {
                    work.Push((v, i + 1));
                    int w = edges[v][i];
                    if (w == v) result[v] = true;
                    if (index[w] < 0)
                    {
                        index[w] = low[w] = counter++;
                        stack.Push(w);
                        onStack[w] = true;
                        work.Push((w, 0));
                    }
                    else if (onStack[w]) low[v] = Math.Min(low[v], index[w]);
                    continue;
                }
                if (work.Count > 0)
                {
                    int parent = work.Peek().V;
                    low[parent] = Math.Min(low[parent], low[v]);
                }
                if (low[v] == index[v])
                {
                    var component = new List<int>();
                    int x;
                    do { x = stack.Pop(); onStack[x] = false; component.Add(x); } while (x != v);
                    if (component.Count > 1) foreach (int c in component) result[c] = true;
                }
            }
        }
        return result;
    }
}
