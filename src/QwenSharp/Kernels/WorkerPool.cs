namespace QwenSharp.Kernels;

/// <summary>
/// A fixed set of threads that run one job at a time. A job is cut into parts (the kernels cut by output rows);
/// the calling thread and the workers claim parts one by one from a shared counter, so a worker that wakes late
/// (a busy machine) finds the parts already done and nobody waits for it: only parts actually claimed are
/// waited for. Parts are claimed in increasing order, so when part p is claimed every part before it already runs
/// on some thread: a job may have parts wait for earlier ones (MatMul quantizes its activations in its first parts).
/// A job is a function pointer and a context pointer, so running one allocates nothing (no Task,
/// no closure). Jobs from different threads are serialized.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    private static WorkerPool? _shared;
    private static readonly object SharedLock = new();

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private readonly object _runLock = new();
    private long _generation;
    private bool _disposed;
    private delegate*<void*, int, int, void> _work;
    private void* _context;
    // The claim word: job tag (24 bits) | parts (20 bits) | next part to claim (20 bits). A claim is a CAS on the
    // whole word, so a worker that read a finished job's fields can never claim a part of the next job with them:
    // while a part is unclaimed the job cannot finish, so fields read between reading the word and a successful
    // CAS are that job's.
    private long _claim;
    private int _completed;  // parts finished
    private Exception? _failure;
    private const int MaxParts = (1 << 20) - 1;

    /// <param name="threads">Workers including the caller; at least 1.</param>
    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"A worker pool needs at least 1 thread, not {threads}.");
        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"QwenSharp worker {i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Workers, the calling thread included.</summary>
    public int ThreadCount { get; }

    /// <summary>The pool the kernels use unless given another; <see cref="Environment.ProcessorCount"/> threads
    /// until <see cref="SetSharedThreadCount"/> changes it.</summary>
    public static WorkerPool Shared
    {
        get
        {
            if (_shared != null) return _shared;
            lock (SharedLock) return _shared ??= new WorkerPool(Environment.ProcessorCount);
        }
    }

    /// <summary>Replaces the shared pool by one of <paramref name="threads"/> workers.</summary>
    public static void SetSharedThreadCount(int threads)
    {
        lock (SharedLock)
        {
            if (_shared?.ThreadCount == threads) return;
            var old = _shared;
            _shared = new WorkerPool(threads);
            old?.Dispose();
        }
    }

    /// <summary>Runs <c>work(context, part, parts)</c> once for every part in 0..parts−1, spread over the workers,
    /// and returns when all are done. The context may point into the caller's stack: it stays alive until this
    /// returns. An exception thrown by a part is rethrown here.</summary>
    public void Run(delegate*<void*, int, int, void> work, void* context, int parts)
    {
        if (parts <= 0) return;
        if (parts > MaxParts) throw new ArgumentOutOfRangeException(nameof(parts), $"A job of {parts} parts exceeds {MaxParts}.");
        if (ThreadCount == 1 || parts == 1)
        {
            for (int p = 0; p < parts; p++) work(context, p, parts);
            return;
        }
        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _work = work;
            _context = context;
            _failure = null;
            Volatile.Write(ref _completed, 0);
            lock (_gate)
            {
                _generation++;
                Volatile.Write(ref _claim, ((_generation & 0xFFFFFF) << 40) | ((long)parts << 20));
                Monitor.PulseAll(_gate);
            }
            Claim();
            var spin = new SpinWait();
            while (Volatile.Read(ref _completed) < parts) spin.SpinOnce(sleep1Threshold: -1);
            var failure = _failure;
            if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Runs <c>work(context, worker, ThreadCount)</c>-style jobs: one part per thread.</summary>
    public void Run(delegate*<void*, int, int, void> work, void* context) => Run(work, context, ThreadCount);

    /// <summary>Claims and runs parts of the current job until none is left.</summary>
    private void Claim()
    {
        while (true)
        {
            long v = Volatile.Read(ref _claim);
            int parts = (int)((v >> 20) & MaxParts), next = (int)(v & MaxParts);
            if (next >= parts) return;
            var work = _work;
            void* context = _context;
            if (Interlocked.CompareExchange(ref _claim, v + 1, v) != v) continue;
            // A failure is kept for the caller (rethrown by Run) before the part counts as done.
            try { work(context, next, parts); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            Interlocked.Increment(ref _completed);
        }
    }

    private void Loop()
    {
        long seen = 0;
        while (true)
        {
            // Spin briefly (a decode step issues jobs back to back, some only microseconds long), looking at the
            // generation after every pause (one normalized pause is a few tens of ns: a job is seen at once), for about
            // 2 ms in all, then sleep on the monitor.
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < 60000) Thread.SpinWait(1);
                else
                {
                    lock (_gate)
                        while (_generation == seen && !_disposed) Monitor.Wait(_gate);
                }
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            Claim();
        }
    }

    public void Dispose()
    {
        lock (_runLock)
        {
            if (_disposed) return;
            lock (_gate)
            {
                _disposed = true;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
