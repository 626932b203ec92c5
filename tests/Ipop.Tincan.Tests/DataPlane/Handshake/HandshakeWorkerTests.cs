using System.Collections.Concurrent;
using System.Net;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane.Handshake;

public sealed class HandshakeWorkerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void Queued_handshakes_are_handled_on_the_workers_own_thread_not_the_thread_pool()
    {
        // The thread pool belongs to the embedding application: with its threads all blocked, handshakes (rekeys
        // included) stalled until it grew. The worker's thread does not depend on it.
        var threads = new BlockingCollection<(string? Name, bool Pool, byte Marker)>();
        using var worker = new HandshakeWorker();
        var queue = new HandshakeQueue(8, slot => threads.Add((Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread, slot.Message[1])), worker.Schedule);
        byte[] message = new byte[HandshakeInitiationMessage.Length];
        var from = new IPEndPoint(IPAddress.Parse("198.18.0.1"), 7000).Serialize();
        for (byte round = 0; round < 3; round++)
        {
            // Each message after the queue drained schedules a new drain on the same thread.
            message[1] = round;
            Assert.True(queue.TryEnqueue(message, from, relay: null));
            Assert.True(threads.TryTake(out var seen, Wait), $"message {round} was not handled");
            Assert.Equal(("ipop-tincan-hs", false, round), seen);
            SpinWait.SpinUntil(() => queue.Waiting == 0, Wait);
        }
    }

    [Fact]
    public void After_disposal_no_message_is_handled_and_scheduling_does_not_throw()
    {
        int handled = 0;
        var worker = new HandshakeWorker();
        var queue = new HandshakeQueue(8, _ => Interlocked.Increment(ref handled), worker.Schedule);
        worker.Dispose();
        worker.Dispose();
        Assert.True(queue.TryEnqueue(new byte[HandshakeInitiationMessage.Length], new IPEndPoint(IPAddress.Loopback, 1).Serialize(), relay: null));
        Thread.Sleep(100);
        Assert.Equal(0, Volatile.Read(ref handled));
    }
}
