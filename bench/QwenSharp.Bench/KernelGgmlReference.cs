using System.Runtime.InteropServices;
using QwenSharp.Tensors;

namespace QwenSharp.Bench;

/// <summary>llama.cpp's own CPU kernels (ggml-cpu from LLamaSharp.Backend.Cpu) for a side-by-side matvec:
/// its from_float on the activations, then its vec_dot on every row, on one thread — what llama.cpp's
/// mul_mat does per thread for a single token.</summary>
internal static unsafe class KernelGgmlReference
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TypeTraitsCpu
    {
        public delegate* unmanaged<float*, void*, long, void> FromFloat;
        public delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot;
        public int VecDotType;
        public long NRows;
    }

    private static nint _cpu;

    public static bool TryLoad(string? folder)
    {
        if (_cpu != 0) return true;
        string dir = folder ?? Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native",
            System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512" : "avx2");
        string basePath = Path.Combine(dir, "libggml-base.so"), cpuPath = Path.Combine(dir, "libggml-cpu.so");
        if (!File.Exists(basePath) || !File.Exists(cpuPath)) return false;
        NativeLibrary.Load(basePath);
        _cpu = NativeLibrary.Load(cpuPath);
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(_cpu, "ggml_cpu_init"))();
        return true;
    }

    private static TypeTraitsCpu* Traits(GgmlType t) =>
        ((delegate* unmanaged<int, TypeTraitsCpu*>)NativeLibrary.GetExport(_cpu, "ggml_get_type_traits_cpu"))((int)t);

    /// <summary>y = W·x for one token with llama.cpp's kernels; <paramref name="scratch"/> holds the converted x.</summary>
    public static void MatVec(TensorView w, float* x, float* y, byte* scratch)
    {
        var traits = Traits(w.Type);
        var act = (GgmlType)traits->VecDotType;
        int cols = (int)w.Columns;
        if (act == GgmlType.F32) Buffer.MemoryCopy(x, scratch, cols * 4L, cols * 4L);
        else Traits(act)->FromFloat(x, scratch, cols);
        var dot = traits->VecDot;
        for (long r = 0; r < w.Rows; r++) dot(cols, y + r, 0, w.Row(r), 0, scratch, 0, 1);
    }
}
