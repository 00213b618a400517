namespace QwenSharp.Kernels;

/// <summary>
/// A fixed set of threads that run one job at a time, each on its own share (the kernels split by output
/// rows). The calling thread works as worker 0, so a pool of N uses N−1 extra threads. A job is a function
/// pointer and a context pointer, so running one allocates nothing (no Task, no closure).
/// Jobs from different threads are serialized.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    private static WorkerPool? _shared;
    private static readonly object SharedLock = new();

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private readonly object _runLock = new();
    private long _generation;
    private int _pending;
    private bool _disposed;
    private delegate*<void*, int, int, void> _work;
    private void* _context;
    private Exception? _failure;

    /// <param name="threads">Workers including the caller; at least 1.</param>
    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"A worker pool needs at least 1 thread, not {threads}.");
        ThreadCount = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int index = i + 1;
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"QwenSharp worker {index}" };
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

    /// <summary>Runs <c>work(context, worker, ThreadCount)</c> on every worker and returns when all are done.
    /// The context may point into the caller's stack: it stays alive until this returns.</summary>
    public void Run(delegate*<void*, int, int, void> work, void* context)
    {
        if (ThreadCount == 1)
        {
            work(context, 0, 1);
            return;
        }
        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _work = work;
            _context = context;
            Volatile.Write(ref _pending, ThreadCount - 1);
            lock (_gate)
            {
                _generation++;
                Monitor.PulseAll(_gate);
            }
            _failure = null;
            Exception? own = null;
            try { work(context, 0, ThreadCount); }
            catch (Exception e) { own = e; }
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            // A worker's exception is rethrown here, on the caller, rather than ending the process on a pool thread.
            var failure = own ?? _failure;
            if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    private void Loop(int index)
    {
        long seen = 0;
        while (true)
        {
            // Spin briefly (a decode step issues jobs back to back), then sleep on the monitor.
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < 2000) Thread.SpinWait(30);
                else
                {
                    lock (_gate)
                        while (_generation == seen && !_disposed) Monitor.Wait(_gate);
                }
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            try { _work(_context, index, ThreadCount); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            Interlocked.Decrement(ref _pending);
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
