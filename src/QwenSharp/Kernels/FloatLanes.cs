using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QwenSharp.Kernels;

/// <summary>
/// Sixteen f32 lanes and the few operations the lane-wise kernels (<see cref="AttentionTile"/>) use, as a type
/// parameter: one source for every ISA, the JIT compiling each instantiation with the calls inlined. AVX-512 holds the
/// lanes in one zmm (<see cref="Lanes512"/>); the AVX2 tiers in two ymm (<see cref="Lanes256x2"/>), each operation
/// done on both halves.
/// </summary>
internal interface IFloatLanes<TV> where TV : struct
{
    static abstract TV Zero { get; }
    static abstract TV Broadcast(float x);
    static abstract unsafe TV Load(float* p);
    static abstract unsafe void Store(TV v, float* p);
    static abstract TV FusedMultiplyAdd(TV a, TV b, TV c);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract TV Divide(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    static abstract TV Exp(TV a);
    /// <summary>Per lane: <paramref name="ifGreater"/> where a &gt; b, else <paramref name="otherwise"/>.</summary>
    static abstract TV SelectGreater(TV a, TV b, TV ifGreater, TV otherwise);
}

internal struct Lanes512 : IFloatLanes<Vector512<float>>
{
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> a) => Vector512.Exp(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SelectGreater(Vector512<float> a, Vector512<float> b, Vector512<float> ifGreater, Vector512<float> otherwise) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(a, b), ifGreater, otherwise);
}

/// <summary>Sixteen lanes as two ymm registers (lanes 0-7 in <see cref="Lo"/>, 8-15 in <see cref="Hi"/>).</summary>
internal struct Lanes256x2 : IFloatLanes<Lanes256x2>
{
    public Vector256<float> Lo, Hi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Lanes256x2 Of(Vector256<float> lo, Vector256<float> hi) => new() { Lo = lo, Hi = hi };

    public static Lanes256x2 Zero => default;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Broadcast(float x) { var v = Vector256.Create(x); return Of(v, v); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe Lanes256x2 Load(float* p) => Of(Vector256.Load(p), Vector256.Load(p + 8));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(Lanes256x2 v, float* p) { v.Lo.Store(p); v.Hi.Store(p + 8); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 FusedMultiplyAdd(Lanes256x2 a, Lanes256x2 b, Lanes256x2 c) => Of(Vector256.FusedMultiplyAdd(a.Lo, b.Lo, c.Lo), Vector256.FusedMultiplyAdd(a.Hi, b.Hi, c.Hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Add(Lanes256x2 a, Lanes256x2 b) => Of(a.Lo + b.Lo, a.Hi + b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Subtract(Lanes256x2 a, Lanes256x2 b) => Of(a.Lo - b.Lo, a.Hi - b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Multiply(Lanes256x2 a, Lanes256x2 b) => Of(a.Lo * b.Lo, a.Hi * b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Divide(Lanes256x2 a, Lanes256x2 b) => Of(a.Lo / b.Lo, a.Hi / b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Max(Lanes256x2 a, Lanes256x2 b) => Of(Vector256.Max(a.Lo, b.Lo), Vector256.Max(a.Hi, b.Hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256x2 Exp(Lanes256x2 a) => Of(Vector256.Exp(a.Lo), Vector256.Exp(a.Hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256x2 SelectGreater(Lanes256x2 a, Lanes256x2 b, Lanes256x2 ifGreater, Lanes256x2 otherwise) =>
        Of(Vector256.ConditionalSelect(Vector256.GreaterThan(a.Lo, b.Lo), ifGreater.Lo, otherwise.Lo),
           Vector256.ConditionalSelect(Vector256.GreaterThan(a.Hi, b.Hi), ifGreater.Hi, otherwise.Hi));
}
