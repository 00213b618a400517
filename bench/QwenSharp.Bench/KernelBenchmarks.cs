using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using QwenSharp.Kernels;
using QwenSharp.Tensors;

namespace QwenSharp.Bench;

/// <summary>BenchmarkDotNet: MatMul per weight format at Qwen2-0.5B MLP shapes ([4864, 896] gate/up and
/// [896, 4864] down), one token (decode) and 512 tokens (prefill GEMM). Not run by CI.</summary>
[MemoryDiagnoser]
public unsafe class KernelBenchmarks
{
    [Params(GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K)]
    public GgmlType Type { get; set; }

    [Params("4864x896", "896x4864")]
    public string Shape { get; set; } = "4864x896";

    private KernelMatrix? _m;
    private float[] _x = [];
    private float[] _y = [];

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x');
        int rows = int.Parse(dims[0]), cols = int.Parse(dims[1]);
        _m = new KernelMatrix(Type, rows, cols, seed: 1);
        _x = KernelMatrix.Random(512 * cols, 2, 1f);
        _y = new float[512 * rows];
    }

    [GlobalCleanup]
    public void Cleanup() => _m?.Dispose();

    [Benchmark]
    public void MatVec() => MatMul.Multiply(_m!.View, _x, _y, 1);

    [Benchmark]
    public void Gemm512() => MatMul.Multiply(_m!.View, _x, _y, 512);
}

/// <summary>A random weight matrix (~N(0, 1/cols)) quantized into unmanaged memory, as a mapped tensor.</summary>
internal sealed unsafe class KernelMatrix : IDisposable
{
    public KernelMatrix(GgmlType type, int rows, int cols, int seed)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
        Bytes = rowBytes * rows;
        _p = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
        var row = Random(cols, seed, 1f / MathF.Sqrt(cols));
        var rng = new Random(seed);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++) row[c] *= rng.NextSingle() < 0.5f ? -1f : 1f; // vary rows cheaply
            Quantize.Row(type, row, new Span<byte>(_p + r * rowBytes, (int)rowBytes));
        }
        View = new TensorView("bench.weight", type, [rows, cols], _p, Bytes);
    }

    private readonly byte* _p;
    public long Bytes { get; }
    public TensorView View { get; }

    public static float[] Random(int n, int seed, float scale)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble())) * scale;
        return x;
    }

    public void Dispose() => NativeMemory.AlignedFree(_p);
}
