using QwenSharp.Tensors;

namespace QwenSharp.Kernels;

/// <summary>One product of a <see cref="MatMul.MultiplyGroup"/>: y = W·x for one token, x of W's columns, y of its rows.</summary>
internal readonly unsafe struct GroupProduct(TensorView w, float* x, int xLength, float* y, int yLength)
{
    public readonly TensorView W = w;
    public readonly float* X = x;
    public readonly int XLength = xLength;
    public readonly float* Y = y;
    public readonly int YLength = yLength;
}

public static unsafe partial class MatMul
{
    /// <summary>The most products one group takes (a MoE decode step's gate/up of 8 experts and a shared expert).</summary>
    internal const int MaxGroup = 32;

    [ThreadStatic] private static byte* _groupScratch; // the group's activation rows, one per distinct input
    [ThreadStatic] private static long _groupScratchBytes;

    /// <summary>
    /// y_i = W_i·x_i for one token over several matrices of any formats, widths and inputs, as one job on the pool: a
    /// decode step that multiplies by many small matrices which do not wait for one another (a MoE layer's chosen
    /// experts) hands off, and waits for the slowest thread, once instead of once per matrix. Each distinct input is
    /// converted to its weight's activation type once, on the calling thread; the matrices' rows are then cut into
    /// equal shares of weight bytes (the work of a memory-bound product), in units of 4 rows counted from each
    /// matrix's first row, so every row goes through the same kernel as in <see cref="Multiply(TensorView, ReadOnlySpan{float}, Span{float}, int)"/>
    /// and the outputs are bitwise those of one <c>Multiply</c> per matrix.
    /// </summary>
    internal static void MultiplyGroup(ReadOnlySpan<GroupProduct> products, WorkerPool pool)
    {
        int count = products.Length;
        if (count > MaxGroup) throw new ArgumentException($"A group of {count} products exceeds {MaxGroup}.");
        if (count == 0) return;
        var jobs = stackalloc Job[count];
        var bases = stackalloc long[count + 1]; // each matrix's first byte in the group's cost order
        var offsets = stackalloc long[count];   // each product's activation row in the scratch, or −1 − j: product j's
        long scratch = 0, macs = 0;
        for (int i = 0; i < count; i++)
        {
            var p = products[i];
            var (rows, cols) = Validate(p.W, p.XLength, p.YLength, 1);
            var type = p.W.Type;
            var job = new Job
            {
                Type = type, W = p.W.Pointer, WRowBytes = GgmlTypeInfo.RowBytes(type, cols), Rows = rows, Cols = cols,
                X = p.X, Y = p.Y, Tokens = 1, Float = FloatDot.IsFloat(type), ActType = ActivationQuantizer.VecDotType(type),
            };
            job.ARowBytes = job.Float ? (long)cols * sizeof(float) : GgmlTypeInfo.RowBytes(job.ActType, cols);
            jobs[i] = job;
            bases[i + 1] = bases[i] + rows * job.WRowBytes;
            macs += (long)rows * cols;
            offsets[i] = scratch;
            for (int j = 0; j < i; j++)
                if (jobs[j].X == job.X && jobs[j].ActType == job.ActType && jobs[j].Float == job.Float && jobs[j].Cols == cols)
                {
                    offsets[i] = -1 - j; // the same activations, already converted for product j
                    break;
                }
            if (offsets[i] >= 0) scratch += (job.ARowBytes + 63) & ~63L;
        }
        byte* a = Scratch(ref _groupScratch, ref _groupScratchBytes, Math.Max(scratch, 64));
        for (int i = 0; i < count; i++)
        {
            if (offsets[i] >= 0)
            {
                jobs[i].A = a + offsets[i];
                QuantizeToken(jobs + i, 0);
            }
            else jobs[i].A = jobs[-1 - offsets[i]].A;
        }
        var group = new Group { Jobs = jobs, Bases = bases, Count = count };
        if (macs <= SmallProduct) GroupShare(&group, 0, 1);
        else pool.Run(&GroupShare, &group, pool.ThreadCount); // one part per thread, as a single matrix's decode
    }

    private struct Group
    {
        public Job* Jobs;
        public long* Bases;
        public int Count;
    }

    /// <summary>Part <paramref name="part"/> takes the 4-row units whose first byte falls in its share of all the matrices' bytes.</summary>
    private static void GroupShare(void* context, int part, int parts)
    {
        var g = (Group*)context;
        long total = g->Bases[g->Count];
        long c0 = total * part / parts, c1 = total * (part + 1) / parts;
        for (int i = 0; i < g->Count; i++)
        {
            Job* job = g->Jobs + i;
            long unit = 4 * job->WRowBytes, first = g->Bases[i];
            int units = (job->Rows + 3) / 4;
            int u0 = FirstUnitFrom(c0 - first, unit, units), u1 = FirstUnitFrom(c1 - first, unit, units);
            if (u0 < u1) Rows(job, u0 * 4, Math.Min(u1 * 4, job->Rows));
        }
    }

    /// <summary>The first unit that starts at or after byte <paramref name="offset"/> of its matrix, within 0..units.</summary>
    private static int FirstUnitFrom(long offset, long unit, int units) =>
        offset <= 0 ? 0 : (int)Math.Min((offset + unit - 1) / unit, units);
}
