using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>
/// y = W·x for a weight matrix W = [rows, cols] in any supported format, over a batch of tokens:
/// y[t·rows + r] = Σ_c W[r, c] · x[t·cols + c] for t &lt; tokens.
/// Weights are read from where they lie (the memory map) in their block format; nothing is expanded.
/// <para><b>Precision.</b> <see cref="Multiply(TensorView, ReadOnlySpan{float}, Span{float}, int)"/> is the default and
/// matches llama.cpp's CPU backend: activations are first converted to the weight's
/// <see cref="ActivationQuantizer.VecDotType"/> (F16 for F16 weights, BF16 for BF16, 8-bit Q8_0/Q8_1 blocks for the
/// 32-value quants, Q8_K for the K-quants, F32 for F32) and the dot products are integer sums per block.
/// <see cref="MultiplyExact"/> keeps activations in f32 and multiplies by the exactly dequantized weights
/// (f32 accumulation): the reference for F32 checks and for measuring what activation rounding costs.</para>
/// <para>Work is split by output rows over a <see cref="WorkerPool"/>; with several tokens the rows are
/// visited once per tile of tokens, so each weight row is read once for the whole tile (prefill as GEMM).</para>
/// </summary>
public static unsafe partial class MatMul
{
    /// <summary>Tokens per tile in the batched path: their activation rows stay in L1/L2 while the rows stream by.</summary>
    private const int TokenTile = DotFast.MaxTokens;

    // A hand-off to the pool costs more than the work it would split below these sizes (on 2 cores batched decode of 8
    // sequences gained about a tenth once they were kept on the calling thread; docs/benchmarks.md has the runs).
    /// <summary>Activations of up to this many values (8 tokens of the 0.5B's widest rows), or of one token, are
    /// quantized on the calling thread.</summary>
    private const long SmallBatchValues = 8 * 4864;
    /// <summary>Products of up to this many multiply-adds (the k and v projections of one token) run on the calling thread.</summary>
    private const long SmallProduct = 1 << 18;

    [ThreadStatic] private static byte* _scratch;  // the caller's activation rows
    [ThreadStatic] private static long _scratchBytes;
    [ThreadStatic] private static byte* _panel;    // the same activations packed for RowLaneGemm
    [ThreadStatic] private static long _panelBytes;

    public static void Multiply(TensorView w, ReadOnlySpan<float> x, Span<float> y, int tokens) =>
        Multiply(w, x, y, tokens, WorkerPool.Shared);

    public static void Multiply(TensorView w, ReadOnlySpan<float> x, Span<float> y, int tokens, WorkerPool pool)
    {
        var (rows, cols) = Validate(w, x.Length, y.Length, tokens);
        fixed (float* px = x)
        fixed (float* py = y)
            Run(w.Type, w.Pointer, rows, cols, px, py, tokens, pool, exact: false, plain: false);
    }

    /// <summary>
    /// y_i = W_i·x for two or three matrices that read the same activations (q, k, v; gate, up): the activations are
    /// quantized once and the matrices' rows are one job on the pool, so a step hands off, and waits for the slowest
    /// part, once instead of two or three times. A matrix whose format or width differs from the first's (the Q6_K
    /// v_proj of some Q4_K_M files) runs on its own.
    /// </summary>
    public static void MultiplySiblings(ReadOnlySpan<float> x, int tokens, TensorView w0, Span<float> y0,
        TensorView w1, Span<float> y1, TensorView? w2 = null, Span<float> y2 = default)
    {
        var pool = WorkerPool.Shared;
        var (rows0, cols) = Validate(w0, x.Length, y0.Length, tokens);
        var (rows1, _) = Validate(w1, x.Length, y1.Length, tokens);
        int rows2 = w2 == null ? 0 : Validate(w2, x.Length, y2.Length, tokens).Rows;
        bool with1 = w1.Type == w0.Type && w1.Shape[1] == cols;
        bool with2 = w2 != null && w2.Type == w0.Type && w2.Shape[1] == cols;
        fixed (float* px = x)
        fixed (float* p0 = y0)
        fixed (float* p1 = y1)
        fixed (float* p2 = y2)
        {
            Run(w0.Type, w0.Pointer, rows0, cols, px, p0, tokens, pool, exact: false, plain: false,
                with1 ? new Sibling(w1.Pointer, rows1, p1) : default, with2 ? new Sibling(w2!.Pointer, rows2, p2) : default);
            if (!with1) Run(w1.Type, w1.Pointer, rows1, (int)w1.Shape[1], px, p1, tokens, pool, exact: false, plain: false);
            if (w2 != null && !with2) Run(w2.Type, w2.Pointer, rows2, (int)w2.Shape[1], px, p2, tokens, pool, exact: false, plain: false);
        }
    }

    /// <summary>A further matrix of the same format and width in one job (see <see cref="MultiplySiblings"/>).</summary>
    internal readonly struct Sibling(byte* w, int rows, float* y)
    {
        public readonly byte* W = w;
        public readonly int Rows = rows;
        public readonly float* Y = y;
    }

    /// <summary>f32 activations against exactly dequantized weights (see the class remarks).</summary>
    public static void MultiplyExact(TensorView w, ReadOnlySpan<float> x, Span<float> y, int tokens, WorkerPool? pool = null)
    {
        var (rows, cols) = Validate(w, x.Length, y.Length, tokens);
        fixed (float* px = x)
        fixed (float* py = y)
            Run(w.Type, w.Pointer, rows, cols, px, py, tokens, pool ?? WorkerPool.Shared, exact: true, plain: false);
    }

    private static (int Rows, int Cols) Validate(TensorView w, int xLength, int yLength, int tokens)
    {
        if (w.Shape.Length != 2)
            throw new ArgumentException($"Tensor {w.Name} has shape {w.ShapeText}; a matrix multiplication needs [rows, cols].");
        long rows = w.Shape[0], cols = w.Shape[1];
        if (rows > int.MaxValue || cols > int.MaxValue)
            throw new ArgumentException($"Tensor {w.Name} {w.ShapeText} is too large for one matrix multiplication.");
        if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens), $"Token count {tokens} is negative.");
        if ((long)tokens * cols > xLength)
            throw new ArgumentException($"Multiplying {w.Name} {w.ShapeText} by {tokens} tokens needs {(long)tokens * cols} inputs; x has {xLength}.");
        if ((long)tokens * rows > yLength)
            throw new ArgumentException($"Multiplying {w.Name} {w.ShapeText} by {tokens} tokens writes {(long)tokens * rows} outputs; y has {yLength}.");
        ActivationQuantizer.VecDotType(w.Type); // throws for a format without a matmul
        GgmlTypeInfo.RowBytes(w.Type, cols);    // throws for a row that is not whole blocks
        return ((int)rows, (int)cols);
    }

    private struct Job
    {
        public GgmlType Type;
        public GgmlType ActType;
        public byte* W;
        public long WRowBytes;
        public int Rows;
        public int Cols;
        public float* X;
        public byte* A;
        public long ARowBytes;
        public float* Y;
        public int Tokens;
        public bool Exact;
        public bool Plain;
        /// <summary>Fast path for F32/F16/BF16: activations held as f32 rounded to the weight format.</summary>
        public bool Float;
        /// <summary>Activations packed for <see cref="RowLaneGemm"/>, or null where that path is not taken.</summary>
        public byte* Panel;
        /// <summary>Matrices 1 and 2 of a sibling job (Rows 0 where absent); W, Rows and Y are matrix 0.</summary>
        public Sibling S1, S2;
        /// <summary>Every matrix's rows are whole groups of 8: the row-lane panel alone serves them.</summary>
        public bool WholeGroups;
        /// <summary>The job's first parts that quantize the activations (0: done before the job); the product's parts
        /// wait for <see cref="Packed"/> to reach it.</summary>
        public int PackParts;
        public int Packed;
    }

    /// <summary>The pointer-level entry used by the public overloads and by the twin tests
    /// (<paramref name="plain"/> picks the scalar twins).</summary>
    internal static void Run(GgmlType type, byte* w, int rows, int cols, float* x, float* y, int tokens,
        WorkerPool pool, bool exact, bool plain, Sibling s1 = default, Sibling s2 = default)
    {
        int allRows = rows + s1.Rows + s2.Rows;
        if (tokens == 0 || allRows == 0) return;
        var job = new Job
        {
            Type = type, W = w, WRowBytes = GgmlTypeInfo.RowBytes(type, cols), Rows = rows, Cols = cols,
            X = x, Y = y, Tokens = tokens, Exact = exact, Plain = plain,
            Float = !plain && FloatDot.IsFloat(type), S1 = s1, S2 = s2,
            WholeGroups = (rows | s1.Rows | s2.Rows) % RowLaneGemm.Lanes == 0,
        };
        if (!exact)
        {
            job.ActType = ActivationQuantizer.VecDotType(type);
            job.ARowBytes = job.Float ? (long)cols * sizeof(float) : GgmlTypeInfo.RowBytes(job.ActType, cols);
            bool gemm = job.Float && tokens > 1; // FloatGemm's packed tiles
            job.A = Scratch(ref _scratch, ref _scratchBytes,
                gemm ? FloatPanel.ActivationFloats(tokens, cols) * sizeof(float) : job.ARowBytes * tokens);
            if (!plain && !job.Float && tokens >= RowLaneGemm.MinTokens && RowLaneGemm.Covers(type))
                job.Panel = Scratch(ref _panel, ref _panelBytes, RowLanePack.Bytes(type, cols, tokens));
            bool small = (long)allRows * cols * tokens <= SmallProduct;
            if (gemm) pool.Run(&PackShare, &job, Math.Min((tokens + FloatPanel.Tokens - 1) / FloatPanel.Tokens, 4 * pool.ThreadCount));
            else if (job.Panel != null && tokens > 1 && !small && pool.ThreadCount > 1)
                job.PackParts = Math.Min(tokens, tokens * (long)cols <= SmallBatchValues ? pool.ThreadCount : 4 * pool.ThreadCount);
            else if (tokens * (long)cols <= Math.Max(cols, SmallBatchValues)) // a few tokens: quantized on this thread
                for (int t = 0; t < tokens; t++) QuantizeToken(&job, t);
            else pool.Run(&QuantizeShare, &job, Math.Min(tokens, 4 * pool.ThreadCount));
        }
        if ((long)allRows * cols * tokens <= SmallProduct)
        {
            MultiplyShare(&job, 0, 1);
            return;
        }
        // Parts of at least 4 rows (8 for the row-lane kernels, whole 32-row panels for FloatGemm), a few per thread,
        // so that a thread that starts late leaves its share to the others. One token (decode) streams its weights
        // from memory and every part starts cold: one part per thread measured 3-7% faster decode (0.5B Q4_0/Q8_0,
        // 7B Q4_0) than four, and a late thread's part is still taken over by the other, unclaimed parts being free.
        // With PackParts the activations are quantized by the job's first parts (the row-lane panel, a few tokens to a
        // part), so the quantization is shared by the threads and costs no hand-off of its own: with 8 tokens it ran on
        // the calling thread while the other waited.
        pool.Run(&MultiplyShare, &job, job.PackParts + Math.Min(Units(&job), (tokens == 1 ? 1 : 4) * pool.ThreadCount));
    }

    private static byte* Scratch(ref byte* buffer, ref long size, long bytes)
    {
        if (size < bytes)
        {
            if (buffer != null) NativeMemory.AlignedFree(buffer);
            buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
            size = bytes;
        }
        return buffer;
    }

    private static (int Start, int End) Share(int count, int worker, int workers, int align)
    {
        int units = (count + align - 1) / align;
        int start = (int)((long)units * worker / workers) * align;
        int end = (int)((long)units * (worker + 1) / workers) * align;
        return (Math.Min(start, count), Math.Min(end, count));
    }

    /// <summary>Part <paramref name="part"/> of <paramref name="parts"/> over <paramref name="units"/> units, the parts
    /// shrinking linearly: part p ends at units·(1 − ((P − p − 1)/P)²), so with 8 parts they hold 15/64, 13/64, … 1/64.</summary>
    private static (int Start, int End) Guided(int units, int part, int parts)
    {
        long p2 = (long)parts * parts;
        int Bound(int p) => units - (int)(units * (long)(parts - p) * (parts - p) / p2);
        return (Bound(part), Bound(part + 1));
    }

    private static void QuantizeToken(Job* job, int t)
    {
        float* x = job->X + (long)t * job->Cols;
        if (job->Panel != null)
        {
            RowLanePack.Token(job->Type, x, t, job->Tokens, job->Cols, job->Panel);
            if (job->WholeGroups) return; // no tail rows for the kernels that read rows of blocks
        }
        byte* a = job->A + t * job->ARowBytes;
        if (job->Float) FloatDot.RoundActivations(job->Type, x, (float*)a, job->Cols);
        else ActivationQuantizer.Row(job->ActType, x, a, job->Cols);
    }

    private static void QuantizeShare(void* context, int part, int parts)
    {
        var job = (Job*)context;
        var (t0, t1) = Share(job->Tokens, part, parts, 1);
        for (int t = t0; t < t1; t++) QuantizeToken(job, t);
    }

    private static void PackShare(void* context, int part, int parts)
    {
        var job = (Job*)context;
        var (b0, b1) = Share((job->Tokens + FloatPanel.Tokens - 1) / FloatPanel.Tokens, part, parts, 1);
        for (int b = b0; b < b1; b++) FloatPanel.PackActivations(job->Type, job->X, job->Cols, job->Tokens, b, (float*)job->A);
    }

    /// <summary>Rows per unit of work: the row-lane GEMM takes groups of 8 rows, FloatGemm converts whole panels.</summary>
    private static int RowAlign(Job* job) =>
        job->Panel != null ? RowLaneGemm.Lanes : job->Float && job->Tokens > 1 ? FloatPanel.Rows : 4;

    /// <summary>Units of work of the job's matrices together (each matrix's rows in whole units of <see cref="RowAlign"/>).</summary>
    private static int Units(Job* job)
    {
        int align = RowAlign(job);
        return (job->Rows + align - 1) / align + (job->S1.Rows + align - 1) / align + (job->S2.Rows + align - 1) / align;
    }

    private static void MultiplyShare(void* context, int part, int parts)
    {
        var job = (Job*)context;
        if (job->PackParts > 0)
        {
            if (part < job->PackParts)
            {
                try { QuantizeShare(context, part, job->PackParts); }
                finally { Interlocked.Increment(ref job->Packed); } // counted even if it threw: nobody waits forever
                return;
            }
            // The pool hands parts out in order, so every quantizing part has been claimed by a running thread: wait
            // for those still at work.
            var spin = new SpinWait();
            while (Volatile.Read(ref job->Packed) < job->PackParts) spin.SpinOnce(sleep1Threshold: -1);
            part -= job->PackParts;
            parts -= job->PackParts;
        }
        int align = RowAlign(job);
        // Several tokens: parts shrink from first to last (guided), so the thread that takes the last one leaves the
        // other waiting for a small part, not an average one. One token keeps equal parts (one per thread, see Run).
        var (u0, u1) = job->Tokens > 1 ? Guided(Units(job), part, parts) : Share(Units(job), part, parts, 1);
        if (job->S1.Rows == 0 && job->S2.Rows == 0)
        {
            Rows(job, u0 * align, Math.Min(u1 * align, job->Rows));
            return;
        }
        // Siblings: the part's units run over the matrices one after another.
        int first = 0;
        for (int m = 0; m < 3 && u0 < u1; m++)
        {
            var one = *job;
            if (m > 0)
            {
                var s = m == 1 ? job->S1 : job->S2;
                one.W = s.W; one.Rows = s.Rows; one.Y = s.Y;
            }
            int units = (one.Rows + align - 1) / align;
            int a = Math.Max(u0, first) - first, b = Math.Min(u1, first + units) - first;
            if (a < b) Rows(&one, a * align, Math.Min(b * align, one.Rows));
            first += units;
        }
    }

    private static void Rows(Job* job, int r0, int r1)
    {
        if (r0 >= r1) return;
        if (job->Exact) ExactRows(job, r0, r1);
        else if (job->Float) FloatRows(job, r0, r1);
        else QuantizedRows(job, r0, r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizedRows(Job* job, int r0, int r1)
    {
        if (job->Panel != null)
        {
            // Whole groups of 8 rows by the row-lane GEMM; the matrix's last rows % 8 go the ways below.
            int r8 = r0 + (r1 - r0) / RowLaneGemm.Lanes * RowLaneGemm.Lanes;
            RowLaneGemm.Multiply(job->Type, job->W, job->WRowBytes, r0, r8, job->Rows, job->Cols, job->Panel, job->Tokens, job->Y);
            if (r8 == r1) return;
            r0 = r8;
        }
        var one = job->Plain ? null : DotFast.SelectOne(job->Type);
        var four = job->Plain ? null : DotFast.SelectFour(job->Type, job->Cols);
        var many = job->Plain ? null : DotFast.SelectMany(job->Type);
        var block = job->Plain ? null : DotFast.SelectBlock(job->Type);
        int rows = job->Rows, cols = job->Cols;
        long aRow = job->ARowBytes;
        float* out16 = stackalloc float[DotFast.MaxTokens];
        for (int t0 = 0; t0 < job->Tokens; t0 += TokenTile)
        {
            int count = Math.Min(TokenTile, job->Tokens - t0);
            byte* a0 = job->A + t0 * aRow;
            int r = r0;
            if (block != null && count >= 4)
            {
                // 2 rows × 4 tokens in registers; the tile's last 1..3 tokens and an odd row go the Many way.
                for (; r + 2 <= r1; r += 2)
                {
                    byte* w0 = job->W + r * job->WRowBytes;
                    int t = 0;
                    for (; t + 4 <= count; t += 4)
                    {
                        block(w0, w0 + job->WRowBytes, a0 + t * aRow, aRow, cols, out16);
                        for (int k = 0; k < 4; k++)
                        {
                            job->Y[(long)(t0 + t + k) * rows + r] = out16[k];
                            job->Y[(long)(t0 + t + k) * rows + r + 1] = out16[4 + k];
                        }
                    }
                    for (int rr = r; rr < r + 2 && t < count; rr++)
                    {
                        many(job->W + rr * job->WRowBytes, a0 + t * aRow, aRow, cols, count - t, out16);
                        for (int k = 0; k < count - t; k++) job->Y[(long)(t0 + t + k) * rows + rr] = out16[k];
                    }
                }
            }
            if (count == 1 && four != null) // decode: four rows side by side, the rest one by one
                for (; r + 4 <= r1; r += 4) four(job->W + r * job->WRowBytes, job->WRowBytes, a0, cols, job->Y + (long)t0 * rows + r);
            for (; r < r1; r++)
            {
                byte* wr = job->W + r * job->WRowBytes;
                float* yr = job->Y + (long)t0 * rows + r;
                if (count == 1 && one != null) *yr = one(wr, a0, cols);
                else if (many != null)
                {
                    many(wr, a0, aRow, cols, count, out16);
                    for (int t = 0; t < count; t++) yr[(long)t * rows] = out16[t];
                }
                else
                {
                    for (int t = 0; t < count; t++) yr[(long)t * rows] = DotPlain.Dot(job->Type, wr, a0 + t * aRow, cols);
                }
            }
        }
    }

    [ThreadStatic] private static byte* _rows;
    [ThreadStatic] private static long _rowsBytes;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FloatRows(Job* job, int r0, int r1)
    {
        int rows = job->Rows, cols = job->Cols;
        if (job->Tokens == 1)
        {
            for (int r = r0; r < r1; r++)
            {
                byte* wr = job->W + r * job->WRowBytes;
                // Halves converted in registers as they stream by, at 512 bits or at 256 (FloatDot's F16 loads): a
                // row converted into a buffer first and then multiplied ran at a quarter of llama.cpp's decode on AVX2.
                if (job->Type == GgmlType.F16 && HalfDot.Supported)
                    job->Y[r] = HalfDot.Dot((ushort*)wr, (float*)job->A, cols);
                else job->Y[r] = FloatDot.One(job->Type, wr, (float*)job->A, cols);
            }
            return;
        }
        FloatGemm.Multiply(job->Type, job->W, job->WRowBytes, r0, r1, cols, (float*)job->A, job->Tokens, job->Y, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExactRows(Job* job, int r0, int r1)
    {
        int cols = job->Cols;
        // One dequantized row at a time (75 KB for the widest Qwen2 rows): the weights are never copied whole.
        float* row = (float*)Scratch(ref _rows, ref _rowsBytes, (long)cols * sizeof(float));
        var rowSpan = new Span<float>(row, cols);
        for (int r = r0; r < r1; r++)
        {
            Dequantize.Row(job->Type, job->W + r * job->WRowBytes, rowSpan);
            for (int t = 0; t < job->Tokens; t++)
                job->Y[(long)t * job->Rows + r] = System.Numerics.Tensors.TensorPrimitives.Dot<float>(rowSpan, new ReadOnlySpan<float>(job->X + (long)t * cols, cols));
        }
    }
}
