using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Ipop.Tincan.Tests.Lifetime;

/// <summary>
/// Issue 15: where <see cref="ITincan.LinkStatusChanged"/> is raised for a change a call makes, as
/// <see cref="ITincan"/>'s documentation says: <see cref="ITincan.RemoveLink"/> raises Closed (Revoked) before it
/// returns, on the calling thread; from a handler, right after that handler returns; never two handlers at once.
/// </summary>
public sealed class EventThreadTests
{
    // Not started: no timer and no receive thread run the control loop, so the thread a change is raised on is the
    // caller's by the rule alone, not by luck.
    private static ITincan Node() => TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });

    private static LinkDescriptor AnyPeer() => new(new NodePublicKey(RandomNumberGenerator.GetBytes(NodePublicKey.Length)), [], string.Empty, string.Empty);

    [Fact]
    public async Task RemoveLink_raises_the_close_on_the_calling_thread_before_it_returns()
    {
        await using ITincan tincan = Node();
        tincan.CreateLink(new PeerId("c"), AnyPeer());
        int raisedOn = 0;
        LinkStatus? seen = null;
        tincan.LinkStatusChanged += (_, e) =>
        {
            if (e.Current.State == LinkState.Closed)
            {
                seen = e.Current;
                raisedOn = Environment.CurrentManagedThreadId;
            }
        };

        int caller = 0;
        bool removed = false;
        LinkStatus? seenAtReturn = null;
        var thread = new Thread(() =>
        {
            caller = Environment.CurrentManagedThreadId;
            removed = tincan.RemoveLink(new PeerId("c"));
            seenAtReturn = seen;
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));

        Assert.True(removed);
        Assert.Equal(new LinkStatus(LinkState.Closed, LinkPath.None, LinkFailureReason.Revoked), seenAtReturn);
        Assert.Equal(caller, raisedOn);
    }

    [Fact]
    public async Task RemoveLink_from_a_handler_raises_its_close_after_that_handler_returns_on_the_same_thread()
    {
        await using ITincan tincan = Node();
        tincan.CreateLink(new PeerId("c"), AnyPeer());
        tincan.CreateLink(new PeerId("d"), AnyPeer());
        int inHandler = 0;
        bool removedFromHandler = false;
        int closesWhenRemoveReturned = -1;
        var closes = new List<(string Peer, bool Nested, int Thread)>();
        tincan.LinkStatusChanged += (_, e) =>
        {
            if (e.Current.State != LinkState.Closed)
            {
                return;
            }

            bool nested = Interlocked.Exchange(ref inHandler, 1) != 0;
            closes.Add((e.Link.Peer.Value, nested, Environment.CurrentManagedThreadId));
            if (e.Link.Peer.Value == "c")
            {
                // Only queued: the close of d runs after this handler. (An assertion here would be swallowed: Tincan
                // logs what a handler throws.)
                removedFromHandler = tincan.RemoveLink(new PeerId("d"));
                closesWhenRemoveReturned = closes.Count;
            }

            Volatile.Write(ref inHandler, 0);
        };

        Assert.True(tincan.RemoveLink(new PeerId("c")));

        Assert.True(removedFromHandler);
        Assert.Equal(1, closesWhenRemoveReturned);
        Assert.Equal([("c", false, Environment.CurrentManagedThreadId), ("d", false, Environment.CurrentManagedThreadId)], closes);
        Assert.Empty(tincan.Links);
    }

    [Fact]
    public async Task Concurrent_RemoveLink_calls_each_return_after_their_close_and_handlers_never_overlap()
    {
        await using ITincan tincan = Node();
        const int Links = 32;
        for (int i = 0; i < Links; i++)
        {
            tincan.CreateLink(new PeerId("p" + i), AnyPeer());
        }

        int inside = 0;
        int overlaps = 0;
        var closed = new ConcurrentDictionary<string, int>();
        tincan.LinkStatusChanged += (_, e) =>
        {
            if (Interlocked.Increment(ref inside) != 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            // Long enough for another caller's step to arrive while this handler runs.
            Thread.Sleep(1);
            if (e.Current.State == LinkState.Closed)
            {
                closed[e.Link.Peer.Value] = Environment.CurrentManagedThreadId;
            }

            Interlocked.Decrement(ref inside);
        };

        using var go = new ManualResetEventSlim();
        int missing = 0;
        int notRemoved = 0;
        Thread[] threads = [.. Enumerable.Range(0, Links).Select(i => new Thread(() =>
        {
            go.Wait();
            if (!tincan.RemoveLink(new PeerId("p" + i)))
            {
                Interlocked.Increment(ref notRemoved);
            }

            if (!closed.ContainsKey("p" + i))
            {
                Interlocked.Increment(ref missing);
            }
        }))];
        foreach (Thread t in threads)
        {
            t.Start();
        }

        go.Set();
        foreach (Thread t in threads)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(20)));
        }

        Assert.Equal(0, notRemoved);
        Assert.Equal(0, overlaps);
        Assert.Equal(0, missing);
        Assert.Equal(Links, closed.Count);
    }
}
