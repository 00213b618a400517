using QwenSharp.Text;

namespace QwenSharp.Tests.Text;

/// <summary>
/// The candidate queue against a plain model of its contract (.NET's PriorityQueue): every pop gives the least
/// (rank, position) pair held, as HF's merge heap does. Pushes come at random positions, so buckets get positions out of order; with
/// ranks that only rise past the last pop (rules in training order) the queue keeps its buckets, with any rank
/// it turns into a heap midway; reused after Clear, it starts afresh.
/// </summary>
public sealed class MergeCandidateQueueTests
{
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(4, false)]
    public void Pops_come_in_rank_then_position_order(int seed, bool risingRanks)
    {
        var rng = new Random(seed);
        var queue = new MergeCandidateQueue(rankLimit: 5_000);
        for (int word = 0; word < 30; word++)
        {
            var model = new PriorityQueue<(int Rank, int Position), (int, int)>();
            int lastPopped = -1;
            bool fellBelow = false;
            int ranksInPlay = rng.Next(1, 40), positions = rng.Next(2, 5_000);
            int baseRank = rng.Next(0, 1_000);
            for (int step = 0; step < 20_000; step++)
            {
                bool push = model.Count == 0 || rng.Next(3) != 0;
                if (push && step < 15_000)
                {
                    int low = risingRanks ? Math.Max(baseRank, lastPopped + 1) : baseRank;
                    int rank = Math.Min(4_999, low + rng.Next(ranksInPlay));
                    if (risingRanks && rank <= lastPopped) continue;
                    int position = rng.Next(positions);
                    fellBelow |= rank <= lastPopped;
                    queue.Push(rank, position);
                    model.Enqueue((rank, position), (rank, position));
                }
                else if (model.Count > 0)
                {
                    var expected = model.Dequeue();
                    Assert.False(queue.IsEmpty);
                    Assert.Equal(expected, queue.Pop());
                    lastPopped = expected.Rank;
                }
                else break;
            }
            while (model.Count > 0)
            {
                var expected = model.Dequeue();
                Assert.Equal(expected, queue.Pop());
            }
            Assert.True(queue.IsEmpty);
            Assert.Equal(fellBelow, queue.IsHeap); // the guard against sorting one bucket again and again
            queue.Clear();
        }
    }
}
