using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QwenSharp.Kernels;

/// <summary>
/// Causal attention for a tile of query rows at once: consecutive tokens of one sequence × the query heads that share
/// one KV head, up to <see cref="MaxRows"/> rows, cut into sub-tiles of 16 rows, each row in one lane of a zmm register
/// (two ymm on the AVX2 tiers: <see cref="IFloatLanes{TV}"/>, the same code). Scores come out 16 rows per key with no
/// horizontal sums (one FMA per dimension against the key's value broadcast), and the value sums likewise.
/// The keys are consumed in blocks of <see cref="KeyBlock"/> with FlashAttention's online softmax (Dao et al. 2022,
/// algorithm 1): each lane keeps its running max m and sum l; a block's scores are exponentiated against the new max,
/// and the sums and output accumulators so far are scaled by exp(m_old − m_new). Nothing is sized by the length: a
/// block of a narrow cache is widened into an L1 scratch of [KeyBlock, headDim] (<see cref="KvHeadRows"/>) and serves
/// every sub-tile of the tile before the next is read, so the cache is read at its type's width once per tile.
/// The per-key path in <see cref="Attention"/> is the plain twin.
/// </summary>
internal static unsafe class AttentionTile
{
    public const int Lanes = 16;
    /// <summary>Sub-tiles per tile: the widening of a key block is shared by this many 16-row groups.</summary>
    public const int SubTiles = 4;
    public const int MaxRows = SubTiles * Lanes;

    /// <summary>Whether tiles apply: an x86 tier, a head size of whole registers, a query group that fits a tile.</summary>
    public static bool Supported(int group, int headDim) =>
        KernelTiers.X86 && group <= MaxRows && headDim % 16 == 0;

    /// <summary>Keys per block: 16 KB of f32 rows (64 keys of 64 values, 32 of 128), between 16 and 256.</summary>
    public static int KeyBlock(int headDim) => Math.Clamp(4096 / headDim / 4 * 4, 16, 256);

    /// <summary>Floats of scratch a tile needs, whatever the length: per sub-tile the transposed queries and the output
    /// accumulators ([d, 16] each), a block's probabilities ([KeyBlock, 16]) and four lanes of state; one widened block.</summary>
    public static long ScratchFloats(int headDim)
    {
        int b = KeyBlock(headDim);
        return (long)SubTiles * Lanes * (2L * headDim + b + 4) + (long)b * headDim;
    }

    /// <summary>Rows: token k (0 ≤ k &lt; tokens, at position firstPosition + k) and query head g of the group of KV head
    /// <paramref name="kvh"/> are row k·group + g, lane r % 16 of sub-tile r / 16; token k attends keys 0..firstPosition + k.</summary>
    /// <param name="queries">the first token's queries, [tokens, heads, headDim] from there on</param>
    /// <param name="output">the first token's output, same layout</param>
    /// <param name="keys">the layer's keys of KV head kvh</param>
    /// <param name="values">likewise for values</param>
    /// <param name="table">the sequence's block table</param>
    /// <param name="scratch">at least <see cref="ScratchFloats"/> floats, 64-byte aligned</param>
    public static void Run(float* queries, float* output, int tokens, int firstPosition, int kvh, int heads, int kvHeads, int d,
        KvHeadRows keys, KvHeadRows values, int* table, int blockSize, float scale, float* scratch)
    {
        if (KernelTiers.Wide)
            Run<Lanes512, Vector512<float>>(queries, output, tokens, firstPosition, kvh, heads, kvHeads, d, keys, values, table, blockSize, scale, scratch);
        else
            Run<Lanes256x2, Lanes256x2>(queries, output, tokens, firstPosition, kvh, heads, kvHeads, d, keys, values, table, blockSize, scale, scratch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TL, TV>(float* queries, float* output, int tokens, int firstPosition, int kvh, int heads, int kvHeads, int d,
        KvHeadRows keys, KvHeadRows values, int* table, int blockSize, float scale, float* scratch) where TL : struct, IFloatLanes<TV> where TV : struct
    {
        int group = heads / kvHeads, rows = tokens * group, subTiles = (rows + Lanes - 1) / Lanes, length = firstPosition + tokens;
        int b = KeyBlock(d);
        long tileFloats = (long)d * Lanes;
        float* qt = scratch;                                   // [SubTiles, d, 16]: queries, transposed and scaled
        float* acc = qt + SubTiles * tileFloats;               // [SubTiles, d, 16]: Σ p·v so far (unnormalized)
        float* probabilities = acc + SubTiles * tileFloats;    // [SubTiles, KeyBlock, 16]: the block's exp(s − m)
        float* state = probabilities + (long)SubTiles * b * Lanes; // [SubTiles, 4, 16]: m, l, exp(m_old − m_new), last visible key
        float* widened = state + SubTiles * 4 * Lanes;         // [KeyBlock, d]: the block's rows of a narrow cache

        long* rowStart = stackalloc long[MaxRows];             // where each lane's query and output rows start
        int* first = stackalloc int[SubTiles];                 // the first and last key every lane of a sub-tile may see
        int* last = stackalloc int[SubTiles];
        float** rowOf = stackalloc float*[b];                  // the block's key (then value) rows as f32
        for (int s = 0; s < subTiles; s++)
        {
            float* stateS = state + s * 4 * Lanes;
            for (int lane = 0; lane < Lanes; lane++)
            {
                int r = s * Lanes + lane;
                int k = r < rows ? r / group : tokens - 1;     // an unused lane repeats the last token, with q = 0
                rowStart[r] = ((long)k * heads + kvh * group + r % group) * d;
                float* q = r < rows ? queries + rowStart[r] : null;
                for (int i = 0; i < d; i++) qt[s * tileFloats + i * Lanes + lane] = q == null ? 0 : q[i] * scale;
                stateS[lane] = float.NegativeInfinity;
                stateS[Lanes + lane] = 0;
                stateS[3 * Lanes + lane] = firstPosition + k;
            }
            first[s] = firstPosition + s * Lanes / group;
            last[s] = firstPosition + (Math.Min(rows, (s + 1) * Lanes) - 1) / group;
            new Span<float>(acc + s * tileFloats, (int)tileFloats).Clear();
        }

        for (int j0 = 0; j0 < length; j0 += b)
        {
            int n = Math.Min(b, length - j0);
            Gather(keys, table, blockSize, j0, n, d, widened, rowOf);
            for (int s = 0; s < subTiles; s++)
                if (j0 <= last[s])
                    Softmax<TL, TV>(qt + s * tileFloats, rowOf, n, d, j0, j0 + n - 1 > first[s], probabilities + (long)s * b * Lanes, state + s * 4 * Lanes);
            Gather(values, table, blockSize, j0, n, d, widened, rowOf);
            for (int s = 0; s < subTiles; s++)
                if (j0 <= last[s])
                    Accumulate<TL, TV>(probabilities + (long)s * b * Lanes, rowOf, n, d, acc + s * tileFloats, TL.Load(state + (s * 4 + 2) * Lanes));
        }

        float* column = stackalloc float[Lanes];
        for (int s = 0; s < subTiles; s++)
        {
            var inverse = TL.Divide(TL.Broadcast(1f), TL.Load(state + (s * 4 + 1) * Lanes));
            int used = Math.Min(Lanes, rows - s * Lanes);
            for (int i = 0; i < d; i++)
            {
                TL.Store(TL.Multiply(TL.Load(acc + s * tileFloats + i * Lanes), inverse), column);
                for (int lane = 0; lane < used; lane++) output[rowStart[s * Lanes + lane] + i] = column[lane];
            }
        }
    }

    /// <summary>Row pointers of positions j0..j0+n: in place for an f32 cache, else widened into <paramref name="widened"/>
    /// a run of one cache block at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather(KvHeadRows kv, int* table, int blockSize, int j0, int n, int d, float* widened, float** rowOf)
    {
        for (int j = j0; j < j0 + n;)
        {
            int within = j % blockSize, m = Math.Min(blockSize - within, j0 + n - j);
            float* r = kv.Rows((long)table[j / blockSize] * blockSize + within, m, widened + (long)(j - j0) * d, out long stride);
            for (int i = 0; i < m; i++) rowOf[j - j0 + i] = r + i * stride;
            j += m;
        }
    }

    /// <summary>One sub-tile against a block of n keys starting at j0: the scores (masked past each lane's position when
    /// <paramref name="masked"/>), the new running max, the block's probabilities against it, and the running sum, with
    /// exp(m_old − m_new) kept for <see cref="Accumulate{TL,TV}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Softmax<TL, TV>(float* qt, float** rowOf, int n, int d, int j0, bool masked, float* p, float* state)
        where TL : struct, IFloatLanes<TV> where TV : struct
    {
        // scores, four keys at a time (four independent FMA chains)
        int j = 0;
        for (; j + 4 <= n; j += 4)
        {
            float* k0 = rowOf[j], k1 = rowOf[j + 1], k2 = rowOf[j + 2], k3 = rowOf[j + 3];
            TV s0 = TL.Zero, s1 = TL.Zero, s2 = TL.Zero, s3 = TL.Zero;
            for (int i = 0; i < d; i++)
            {
                var qi = TL.Load(qt + i * Lanes);
                s0 = TL.FusedMultiplyAdd(qi, TL.Broadcast(k0[i]), s0);
                s1 = TL.FusedMultiplyAdd(qi, TL.Broadcast(k1[i]), s1);
                s2 = TL.FusedMultiplyAdd(qi, TL.Broadcast(k2[i]), s2);
                s3 = TL.FusedMultiplyAdd(qi, TL.Broadcast(k3[i]), s3);
            }
            TL.Store(s0, p + (long)j * Lanes);
            TL.Store(s1, p + (long)(j + 1) * Lanes);
            TL.Store(s2, p + (long)(j + 2) * Lanes);
            TL.Store(s3, p + (long)(j + 3) * Lanes);
        }
        for (; j < n; j++)
        {
            float* kj = rowOf[j];
            TV s = TL.Zero;
            for (int i = 0; i < d; i++) s = TL.FusedMultiplyAdd(TL.Load(qt + i * Lanes), TL.Broadcast(kj[i]), s);
            TL.Store(s, p + (long)j * Lanes);
        }

        var blockMax = TL.Broadcast(float.NegativeInfinity);
        if (masked)
        {
            // −∞ in the lanes whose token comes before the key (causal mask)
            var visible = TL.Load(state + 3 * Lanes);
            var minus = TL.Broadcast(float.NegativeInfinity);
            for (j = 0; j < n; j++)
            {
                var s = TL.SelectGreater(TL.Broadcast(j0 + j), visible, minus, TL.Load(p + (long)j * Lanes));
                TL.Store(s, p + (long)j * Lanes);
                blockMax = TL.Max(blockMax, s);
            }
        }
        else
            for (j = 0; j < n; j++) blockMax = TL.Max(blockMax, TL.Load(p + (long)j * Lanes));

        // Every lane sees key 0, in the first block: from then on its max is finite, and exp(−∞ − m) = 0 for masked keys
        // (and for the empty sums before the first block).
        var oldMax = TL.Load(state);
        var max = TL.Max(oldMax, blockMax);
        var sum = TL.Zero;
        for (j = 0; j < n; j++)
        {
            var e = TL.Exp(TL.Subtract(TL.Load(p + (long)j * Lanes), max));
            TL.Store(e, p + (long)j * Lanes);
            sum = TL.Add(sum, e);
        }
        var correction = TL.Exp(TL.Subtract(oldMax, max));
        TL.Store(max, state);
        TL.Store(TL.FusedMultiplyAdd(TL.Load(state + Lanes), correction, sum), state + Lanes);
        TL.Store(correction, state + 2 * Lanes);
    }

    /// <summary>acc = acc·correction + Σ_j p_j · v_j over the block, eight dimensions a pass (eight accumulators of 16 rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TL, TV>(float* p, float** rowOf, int n, int d, float* acc, TV correction)
        where TL : struct, IFloatLanes<TV> where TV : struct
    {
        for (int c = 0; c < d; c += 8)
        {
            float* a = acc + c * Lanes;
            TV o0 = TL.Multiply(TL.Load(a), correction), o1 = TL.Multiply(TL.Load(a + Lanes), correction);
            TV o2 = TL.Multiply(TL.Load(a + 2 * Lanes), correction), o3 = TL.Multiply(TL.Load(a + 3 * Lanes), correction);
            TV o4 = TL.Multiply(TL.Load(a + 4 * Lanes), correction), o5 = TL.Multiply(TL.Load(a + 5 * Lanes), correction);
            TV o6 = TL.Multiply(TL.Load(a + 6 * Lanes), correction), o7 = TL.Multiply(TL.Load(a + 7 * Lanes), correction);
            for (int j = 0; j < n; j++)
            {
                var pj = TL.Load(p + (long)j * Lanes);
                float* v = rowOf[j] + c;
                o0 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[0]), o0);
                o1 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[1]), o1);
                o2 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[2]), o2);
                o3 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[3]), o3);
                o4 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[4]), o4);
                o5 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[5]), o5);
                o6 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[6]), o6);
                o7 = TL.FusedMultiplyAdd(pj, TL.Broadcast(v[7]), o7);
            }
            TL.Store(o0, a); TL.Store(o1, a + Lanes); TL.Store(o2, a + 2 * Lanes); TL.Store(o3, a + 3 * Lanes);
            TL.Store(o4, a + 4 * Lanes); TL.Store(o5, a + 5 * Lanes); TL.Store(o6, a + 6 * Lanes); TL.Store(o7, a + 7 * Lanes);
        }
    }
}
