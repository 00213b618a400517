using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// Prefill GEMM for F32, F16 and BF16 weights: y[t·ldy + r] = Σ_k W[r, k] · a[t, k] over a batch of tokens, with
/// a[t, k] the activations packed and rounded by <see cref="FloatPanel.PackActivations"/>.
/// <para>Each 32-row panel of W is converted to f32 once (<see cref="FloatPanel.PackWeights"/>, transposed so a k
/// step is two contiguous zmm); four panels at a time, in slices of 1024 columns, stay in L2 while every 12-token
/// tile of activations streams past them. The
/// AVX-512 microkernel keeps 12 tokens × 32 rows in 24 zmm accumulators: per k it loads two weight vectors,
/// broadcasts 12 activations and issues 24 FMAs (broadcast form: no horizontal sums, and each token's 32 outputs
/// are stored as two vectors). Sums are f32, accumulated in k order per output.</para>
/// <para>Without AVX-512 a Vector256 kernel of 2 tokens × 32 rows (12 registers of AVX2's 16) runs on the same
/// panels; <see cref="TilePlain"/> is the scalar twin the tests hold both against.</para>
/// </summary>
internal static unsafe class FloatGemm
{
    /// <summary>Columns per pass over the tiles: the 128 KB of panel they span stay in L2 while the activations
    /// stream from L3. A whole 4864-column panel (608 KB) was partly evicted by them: with one panel per pass,
    /// 896×4864 at 512 tokens ran at 110-140 GFLOP/s on one thread here, 150-165 in passes of 1024 columns.</summary>
    private const int Depth = 1024;

    /// <summary>Panels converted together: each activation tile, once loaded, meets all of them (four 128 KB
    /// slices stay in L2 beside it), so activations stream from L3 or memory once per 128 rows instead of 32.</summary>
    private const int Group = 4;

    [ThreadStatic] private static float* _panel;
    [ThreadStatic] private static long _panelFloats;

    /// <summary>Rows <paramref name="r0"/>..<paramref name="r1"/>−1 of W (all rows of <paramref name="rowBytes"/>
    /// from <paramref name="w"/>) times all <paramref name="tokens"/> packed activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(GgmlType type, byte* w, long rowBytes, int r0, int r1, int cols,
        float* packed, int tokens, float* y, long ldy)
    {
        long panelFloats = (long)FloatPanel.Rows * cols;
        long need = Math.Max(1L, Group * panelFloats);
        if (_panelFloats < need)
        {
            if (_panel != null) NativeMemory.AlignedFree(_panel);
            _panel = (float*)NativeMemory.AlignedAlloc((nuint)(need * sizeof(float)), 64);
            _panelFloats = need;
        }
        float* panels = _panel;
        for (int g = r0; g < r1; g += Group * FloatPanel.Rows)
        {
            int gEnd = Math.Min(r1, g + Group * FloatPanel.Rows);
            for (int r = g; r < gEnd; r += FloatPanel.Rows)
                FloatPanel.PackWeights(type, w + r * rowBytes, rowBytes, Math.Min(FloatPanel.Rows, gEnd - r), cols,
                    panels + (r - g) / FloatPanel.Rows * panelFloats);
            for (int k0 = 0; k0 < Math.Max(cols, 1); k0 += Depth)
            {
                int depth = Math.Min(Depth, cols - k0);
                for (int t = 0; t < tokens; t += FloatPanel.Tokens)
                {
                    float* a = packed + (long)t * cols + (long)k0 * FloatPanel.Tokens;
                    int count = Math.Min(FloatPanel.Tokens, tokens - t);
                    for (int r = g; r < gEnd; r += FloatPanel.Rows)
                        Tile(panels + (r - g) / FloatPanel.Rows * panelFloats + (long)k0 * FloatPanel.Rows, a, depth, count,
                            y + t * ldy + r, ldy, Math.Min(FloatPanel.Rows, gEnd - r), add: k0 > 0);
                }
            }
        }
    }

    /// <summary>One panel × one activation tile of <paramref name="count"/> (≤ 12) tokens over <paramref name="cols"/>
    /// columns, writing <paramref name="rows"/> (≤ 32) outputs per token, or adding to them (<paramref name="add"/>:
    /// the sums go on from the values in y, so a split of the columns gives the same roundings).</summary>
    internal static void Tile(float* panel, float* a, int cols, int count, float* y, long ldy, int rows, bool add)
    {
        if (KernelTiers.Avx512)
        {
            switch (count)
            {
                case 12: Kernel512<N12>(panel, a, cols, y, ldy, rows, add); break;
                case 11: Kernel512<N11>(panel, a, cols, y, ldy, rows, add); break;
                case 10: Kernel512<N10>(panel, a, cols, y, ldy, rows, add); break;
                case 9: Kernel512<N9>(panel, a, cols, y, ldy, rows, add); break;
                case 8: Kernel512<N8>(panel, a, cols, y, ldy, rows, add); break;
                case 7: Kernel512<N7>(panel, a, cols, y, ldy, rows, add); break;
                case 6: Kernel512<N6>(panel, a, cols, y, ldy, rows, add); break;
                case 5: Kernel512<N5>(panel, a, cols, y, ldy, rows, add); break;
                case 4: Kernel512<N4>(panel, a, cols, y, ldy, rows, add); break;
                case 3: Kernel512<N3>(panel, a, cols, y, ldy, rows, add); break;
                case 2: Kernel512<N2>(panel, a, cols, y, ldy, rows, add); break;
                default: Kernel512<N1>(panel, a, cols, y, ldy, rows, add); break;
            }
        }
        else if (KernelTiers.X86) Tile256(panel, a, cols, count, y, ldy, rows, add);
        else TilePlain(panel, a, cols, count, y, ldy, rows, add);
    }

    // The token count as a type, so that the JIT compiles one kernel per count with the unused accumulators gone.
    private interface ICount { static abstract int N { get; } }
    private struct N1 : ICount { public static int N => 1; }
    private struct N2 : ICount { public static int N => 2; }
    private struct N3 : ICount { public static int N => 3; }
    private struct N4 : ICount { public static int N => 4; }
    private struct N5 : ICount { public static int N => 5; }
    private struct N6 : ICount { public static int N => 6; }
    private struct N7 : ICount { public static int N => 7; }
    private struct N8 : ICount { public static int N => 8; }
    private struct N9 : ICount { public static int N => 9; }
    private struct N10 : ICount { public static int N => 10; }
    private struct N11 : ICount { public static int N => 11; }
    private struct N12 : ICount { public static int N => 12; }

    // No ref helpers in here: a by-ref accumulator lives in memory, and the loop must keep all 24 in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void Kernel512<T>(float* panel, float* a, int cols, float* y, long ldy, int rows, bool add) where T : struct, ICount
    {
        // A last panel shorter than 32 rows goes through a buffer so that nothing past its rows is read or written.
        float* tmp = stackalloc float[FloatPanel.Tokens * FloatPanel.Rows];
        bool whole = rows == FloatPanel.Rows;
        float* o = whole ? y : tmp;
        long ld = whole ? ldy : FloatPanel.Rows;
        if (add && !whole)
            for (int t = 0; t < T.N; t++)
                new ReadOnlySpan<float>(y + t * ldy, rows).CopyTo(new Span<float>(tmp + t * FloatPanel.Rows, rows));
        var c00 = Start(add, o); var c01 = Start(add, o + 16);
        var c10 = T.N > 1 ? Start(add, o + ld) : default; var c11 = T.N > 1 ? Start(add, o + ld + 16) : default;
        var c20 = T.N > 2 ? Start(add, o + 2 * ld) : default; var c21 = T.N > 2 ? Start(add, o + 2 * ld + 16) : default;
        var c30 = T.N > 3 ? Start(add, o + 3 * ld) : default; var c31 = T.N > 3 ? Start(add, o + 3 * ld + 16) : default;
        var c40 = T.N > 4 ? Start(add, o + 4 * ld) : default; var c41 = T.N > 4 ? Start(add, o + 4 * ld + 16) : default;
        var c50 = T.N > 5 ? Start(add, o + 5 * ld) : default; var c51 = T.N > 5 ? Start(add, o + 5 * ld + 16) : default;
        var c60 = T.N > 6 ? Start(add, o + 6 * ld) : default; var c61 = T.N > 6 ? Start(add, o + 6 * ld + 16) : default;
        var c70 = T.N > 7 ? Start(add, o + 7 * ld) : default; var c71 = T.N > 7 ? Start(add, o + 7 * ld + 16) : default;
        var c80 = T.N > 8 ? Start(add, o + 8 * ld) : default; var c81 = T.N > 8 ? Start(add, o + 8 * ld + 16) : default;
        var c90 = T.N > 9 ? Start(add, o + 9 * ld) : default; var c91 = T.N > 9 ? Start(add, o + 9 * ld + 16) : default;
        var cA0 = T.N > 10 ? Start(add, o + 10 * ld) : default; var cA1 = T.N > 10 ? Start(add, o + 10 * ld + 16) : default;
        var cB0 = T.N > 11 ? Start(add, o + 11 * ld) : default; var cB1 = T.N > 11 ? Start(add, o + 11 * ld + 16) : default;
        float* pw = panel, pa = a, end = a + (long)cols * FloatPanel.Tokens;
        for (; pa < end; pw += FloatPanel.Rows, pa += FloatPanel.Tokens)
        {
            var w0 = Vector512.Load(pw);
            var w1 = Vector512.Load(pw + 16);
            var b = Vector512.Create(pa[0]); c00 = Avx512F.FusedMultiplyAdd(w0, b, c00); c01 = Avx512F.FusedMultiplyAdd(w1, b, c01);
            if (T.N > 1) { b = Vector512.Create(pa[1]); c10 = Avx512F.FusedMultiplyAdd(w0, b, c10); c11 = Avx512F.FusedMultiplyAdd(w1, b, c11); }
            if (T.N > 2) { b = Vector512.Create(pa[2]); c20 = Avx512F.FusedMultiplyAdd(w0, b, c20); c21 = Avx512F.FusedMultiplyAdd(w1, b, c21); }
            if (T.N > 3) { b = Vector512.Create(pa[3]); c30 = Avx512F.FusedMultiplyAdd(w0, b, c30); c31 = Avx512F.FusedMultiplyAdd(w1, b, c31); }
            if (T.N > 4) { b = Vector512.Create(pa[4]); c40 = Avx512F.FusedMultiplyAdd(w0, b, c40); c41 = Avx512F.FusedMultiplyAdd(w1, b, c41); }
            if (T.N > 5) { b = Vector512.Create(pa[5]); c50 = Avx512F.FusedMultiplyAdd(w0, b, c50); c51 = Avx512F.FusedMultiplyAdd(w1, b, c51); }
            if (T.N > 6) { b = Vector512.Create(pa[6]); c60 = Avx512F.FusedMultiplyAdd(w0, b, c60); c61 = Avx512F.FusedMultiplyAdd(w1, b, c61); }
            if (T.N > 7) { b = Vector512.Create(pa[7]); c70 = Avx512F.FusedMultiplyAdd(w0, b, c70); c71 = Avx512F.FusedMultiplyAdd(w1, b, c71); }
            if (T.N > 8) { b = Vector512.Create(pa[8]); c80 = Avx512F.FusedMultiplyAdd(w0, b, c80); c81 = Avx512F.FusedMultiplyAdd(w1, b, c81); }
            if (T.N > 9) { b = Vector512.Create(pa[9]); c90 = Avx512F.FusedMultiplyAdd(w0, b, c90); c91 = Avx512F.FusedMultiplyAdd(w1, b, c91); }
            if (T.N > 10) { b = Vector512.Create(pa[10]); cA0 = Avx512F.FusedMultiplyAdd(w0, b, cA0); cA1 = Avx512F.FusedMultiplyAdd(w1, b, cA1); }
            if (T.N > 11) { b = Vector512.Create(pa[11]); cB0 = Avx512F.FusedMultiplyAdd(w0, b, cB0); cB1 = Avx512F.FusedMultiplyAdd(w1, b, cB1); }
        }
        c00.Store(o); c01.Store(o + 16);
        if (T.N > 1) { c10.Store(o + ld); c11.Store(o + ld + 16); }
        if (T.N > 2) { c20.Store(o + 2 * ld); c21.Store(o + 2 * ld + 16); }
        if (T.N > 3) { c30.Store(o + 3 * ld); c31.Store(o + 3 * ld + 16); }
        if (T.N > 4) { c40.Store(o + 4 * ld); c41.Store(o + 4 * ld + 16); }
        if (T.N > 5) { c50.Store(o + 5 * ld); c51.Store(o + 5 * ld + 16); }
        if (T.N > 6) { c60.Store(o + 6 * ld); c61.Store(o + 6 * ld + 16); }
        if (T.N > 7) { c70.Store(o + 7 * ld); c71.Store(o + 7 * ld + 16); }
        if (T.N > 8) { c80.Store(o + 8 * ld); c81.Store(o + 8 * ld + 16); }
        if (T.N > 9) { c90.Store(o + 9 * ld); c91.Store(o + 9 * ld + 16); }
        if (T.N > 10) { cA0.Store(o + 10 * ld); cA1.Store(o + 10 * ld + 16); }
        if (T.N > 11) { cB0.Store(o + 11 * ld); cB1.Store(o + 11 * ld + 16); }
        if (!whole)
            for (int t = 0; t < T.N; t++)
                new ReadOnlySpan<float>(tmp + t * FloatPanel.Rows, rows).CopyTo(new Span<float>(y + t * ldy, rows));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Start(bool add, float* p) => add ? Vector512.Load(p) : Vector512<float>.Zero;

    /// <summary>The AVX2-sized kernel: 2 tokens × 32 rows in 8 ymm accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    internal static void Tile256(float* panel, float* a, int cols, int count, float* y, long ldy, int rows, bool add)
    {
        float* tmp = stackalloc float[2 * FloatPanel.Rows];
        for (int t = 0; t < count; t += 2)
        {
            int pair = t + 1 < count ? 2 : 1;
            for (int j = 0; j < 2; j++)
                for (int r = 0; r < FloatPanel.Rows; r++) tmp[j * FloatPanel.Rows + r] = add && j < pair && r < rows ? y[(t + j) * ldy + r] : 0f;
            Vector256<float> c00 = Vector256.Load(tmp), c01 = Vector256.Load(tmp + 8), c02 = Vector256.Load(tmp + 16), c03 = Vector256.Load(tmp + 24);
            Vector256<float> c10 = Vector256.Load(tmp + 32), c11 = Vector256.Load(tmp + 40), c12 = Vector256.Load(tmp + 48), c13 = Vector256.Load(tmp + 56);
            float* pw = panel, pa = a + t;
            for (int k = 0; k < cols; k++, pw += FloatPanel.Rows, pa += FloatPanel.Tokens)
            {
                var w0 = Vector256.Load(pw);
                var w1 = Vector256.Load(pw + 8);
                var w2 = Vector256.Load(pw + 16);
                var w3 = Vector256.Load(pw + 24);
                var b = Vector256.Create(pa[0]);
                c00 = Vector256.FusedMultiplyAdd(w0, b, c00);
                c01 = Vector256.FusedMultiplyAdd(w1, b, c01);
                c02 = Vector256.FusedMultiplyAdd(w2, b, c02);
                c03 = Vector256.FusedMultiplyAdd(w3, b, c03);
                // The second token of an odd tail reads the tile's next slot (inside the packed buffer) and is dropped.
                b = Vector256.Create(pa[1]);
                c10 = Vector256.FusedMultiplyAdd(w0, b, c10);
                c11 = Vector256.FusedMultiplyAdd(w1, b, c11);
                c12 = Vector256.FusedMultiplyAdd(w2, b, c12);
                c13 = Vector256.FusedMultiplyAdd(w3, b, c13);
            }
            c00.Store(tmp); c01.Store(tmp + 8); c02.Store(tmp + 16); c03.Store(tmp + 24);
            c10.Store(tmp + 32); c11.Store(tmp + 40); c12.Store(tmp + 48); c13.Store(tmp + 56);
            for (int j = 0; j < pair; j++)
                new ReadOnlySpan<float>(tmp + j * FloatPanel.Rows, rows).CopyTo(new Span<float>(y + (t + j) * ldy, rows));
        }
    }

    /// <summary>The scalar twin on the same layouts: f32 products summed in k order.</summary>
    internal static void TilePlain(float* panel, float* a, int cols, int count, float* y, long ldy, int rows, bool add)
    {
        for (int t = 0; t < count; t++)
            for (int r = 0; r < rows; r++)
            {
                float s = add ? y[t * ldy + r] : 0f;
                for (int k = 0; k < cols; k++) s = MathF.FusedMultiplyAdd(panel[(long)k * FloatPanel.Rows + r], a[(long)k * FloatPanel.Tokens + t], s);
                y[t * ldy + r] = s;
            }
    }
}
