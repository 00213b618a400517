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
public static unsafe class MatMul
{
    /// <summary>Tokens per tile in the batched path: their activation rows stay in L1/L2 while the rows stream by.</summary>
    private const int TokenTile = 16;

    [ThreadStatic] private static byte* _scratch;
    [ThreadStatic] private static long _scratchBytes;

    public static void Multiply(TensorView w, ReadOnlySpan<float> x, Span<float> y, int tokens) =>
        Multiply(w, x, y, tokens, WorkerPool.Shared);

    public static void Multiply(TensorView w, ReadOnlySpan<float> x, Span<float> y, int tokens, WorkerPool pool)
    {
        var (rows, cols) = Validate(w, x.Length, y.Length, tokens);
        fixed (float* px = x)
        fixed (float* py = y)
            Run(w.Type, w.Pointer, rows, cols, px, py, tokens, pool, exact: false, plain: false);
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
    }

    /// <summary>The pointer-level entry used by the public overloads and by the twin tests
    /// (<paramref name="plain"/> picks the scalar twins).</summary>
    internal static void Run(GgmlType type, byte* w, int rows, int cols, float* x, float* y, int tokens,
        WorkerPool pool, bool exact, bool plain)
    {
        if (tokens == 0 || rows == 0) return;
        var job = new Job
        {
            Type = type, W = w, WRowBytes = GgmlTypeInfo.RowBytes(type, cols), Rows = rows, Cols = cols,
            X = x, Y = y, Tokens = tokens, Exact = exact, Plain = plain,
        };
        if (!exact)
        {
            job.ActType = ActivationQuantizer.VecDotType(type);
            job.ARowBytes = GgmlTypeInfo.RowBytes(job.ActType, cols);
            job.A = Scratch(job.ARowBytes * tokens);
            if (tokens == 1) ActivationQuantizer.Row(job.ActType, x, job.A, cols);
            else pool.Run(&QuantizeShare, &job);
        }
        pool.Run(&MultiplyShare, &job);
    }

    private static byte* Scratch(long bytes)
    {
        if (_scratchBytes < bytes)
        {
            if (_scratch != null) NativeMemory.AlignedFree(_scratch);
            _scratch = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
            _scratchBytes = bytes;
        }
        return _scratch;
    }

    private static (int Start, int End) Share(int count, int worker, int workers, int align)
    {
        int units = (count + align - 1) / align;
        int start = (int)((long)units * worker / workers) * align;
        int end = (int)((long)units * (worker + 1) / workers) * align;
        return (Math.Min(start, count), Math.Min(end, count));
    }

    private static void QuantizeShare(void* context, int worker, int workers)
    {
        var job = (Job*)context;
        var (t0, t1) = Share(job->Tokens, worker, workers, 1);
        for (int t = t0; t < t1; t++)
            ActivationQuantizer.Row(job->ActType, job->X + (long)t * job->Cols, job->A + t * job->ARowBytes, job->Cols);
    }

    private static void MultiplyShare(void* context, int worker, int workers)
    {
        var job = (Job*)context;
        var (r0, r1) = Share(job->Rows, worker, workers, 4);
        if (r0 >= r1) return;
        if (job->Exact) { ExactRows(job, r0, r1); return; }
        var dot = job->Plain ? null : DotFast.Select(job->Type);
        int rows = job->Rows, cols = job->Cols;
        for (int t0 = 0; t0 < job->Tokens; t0 += TokenTile)
        {
            int t1 = Math.Min(job->Tokens, t0 + TokenTile);
            for (int r = r0; r < r1; r++)
            {
                byte* wr = job->W + r * job->WRowBytes;
                for (int t = t0; t < t1; t++)
                {
                    byte* a = job->A + t * job->ARowBytes;
                    job->Y[(long)t * rows + r] = dot != null ? dot(wr, a, cols) : DotPlain.Dot(job->Type, wr, a, cols);
                }
            }
        }
    }

    private static void ExactRows(Job* job, int r0, int r1)
    {
        int cols = job->Cols;
        // One dequantized row at a time (75 KB for the widest Qwen2 rows): the weights are never copied whole.
        float* row = (float*)NativeMemory.AlignedAlloc((nuint)cols * sizeof(float), 64);
        try
        {
            var rowSpan = new Span<float>(row, cols);
            for (int r = r0; r < r1; r++)
            {
                Dequantize.Row(job->Type, job->W + r * job->WRowBytes, rowSpan);
                for (int t = 0; t < job->Tokens; t++)
                    job->Y[(long)t * job->Rows + r] = System.Numerics.Tensors.TensorPrimitives.Dot<float>(rowSpan, new ReadOnlySpan<float>(job->X + (long)t * cols, cols));
            }
        }
        finally
        {
            NativeMemory.AlignedFree(row);
        }
    }
}
