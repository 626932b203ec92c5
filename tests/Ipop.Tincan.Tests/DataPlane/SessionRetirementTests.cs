using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using NSec.Cryptography;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// Retired session keys are zeroed and freed at once, never while a packet thread uses them (issue 13: they used to
/// wait for a finalizer that a data path that does not allocate rarely runs).
/// </summary>
public sealed class SessionRetirementTests
{
    [Fact]
    public void A_retired_session_frees_its_keys_at_once_and_refuses_later_use()
    {
        Session session = NewSession(out Key send, out Key receive);
        byte[] sealedPacket = new byte[16 + TransportCipher.TagLength];
        Assert.True(session.TrySeal(0, default, new byte[16], sealedPacket));
        Assert.False(session.KeysDisposed);

        session.Retire();
        Assert.True(session.IsRetired);
        Assert.True(session.KeysDisposed);
        Assert.Throws<ObjectDisposedException>(() => TransportCipher.Seal(send, 1, default, new byte[16], sealedPacket));
        Assert.Throws<ObjectDisposedException>(() => TransportCipher.Seal(receive, 1, default, new byte[16], sealedPacket));

        // A packet that reaches the session afterwards is refused without touching the freed keys.
        Assert.False(session.TrySeal(1, default, new byte[16], sealedPacket));
        Assert.Equal(SessionOpenResult.Retired, session.TryOpen(0, default, sealedPacket, new byte[16]));
        session.Retire();
    }

    [Fact]
    public void Keys_in_use_when_the_session_retires_are_freed_by_the_last_use()
    {
        Session session = NewSession(out _, out _);
        GuardedKey key = session.SendKey;
        Assert.True(key.TryEnter());
        Assert.True(key.TryEnter());
        session.Retire();
        Assert.True(session.IsRetired);
        Assert.False(key.IsDisposed, "two uses are in flight");
        Assert.False(key.TryEnter(), "a use that starts after the retirement is refused");
        key.Exit();
        Assert.False(key.IsDisposed, "one use is still in flight");
        key.Exit();
        Assert.True(key.IsDisposed);
        Assert.True(session.KeysDisposed);
    }

    [Fact]
    public void Packet_threads_never_see_a_disposed_key_across_many_retirements()
    {
        // A stand-in for the link: the loop publishes a new session and retires the old one 2,000 times while a send
        // thread seals with whatever is current and a receive thread opens with it (as the NIC and socket threads do
        // through the snapshot and the index table). Without the use count, a retirement frees a key in use.
        Session current = NewSession(out _, out _);
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        long sealedCount = 0;
        long refused = 0;
        void Run(bool send)
        {
            byte[] payload = new byte[1200];
            byte[] packet = new byte[1200 + TransportCipher.TagLength];
            byte[] plain = new byte[1200];
            try
            {
                ulong counter = 0;
                while (!stop.IsCancellationRequested)
                {
                    Session s = Volatile.Read(ref current);
                    bool used = send
                        ? s.TrySeal(counter++, default, payload, packet)
                        : s.TryOpen(counter++, default, packet, plain) != SessionOpenResult.Retired;
                    Interlocked.Increment(ref used ? ref sealedCount : ref refused);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }

        var threads = new[] { new Thread(() => Run(send: true)), new Thread(() => Run(send: false)) };
        foreach (Thread t in threads)
        {
            t.Start();
        }

        var retired = new List<Session>();
        for (int i = 0; i < 2000 && failure is null; i++)
        {
            Session old = Interlocked.Exchange(ref current, NewSession(out _, out _));
            old.Retire();
            retired.Add(old);
            if (i % 100 == 0)
            {
                Thread.Sleep(1);
            }
        }

        stop.Cancel();
        foreach (Thread t in threads)
        {
            t.Join();
        }

        Assert.Null(failure);
        Assert.All(retired, s => Assert.True(s.KeysDisposed));
        Assert.True(Interlocked.Read(ref sealedCount) > 1000, $"{sealedCount} uses");
        TestContext.Current.TestOutputHelper?.WriteLine($"{sealedCount} uses, {refused} refused on a retired session, {retired.Count} retirements");
        current.Retire();
    }

    [Fact]
    public async Task Sending_and_receiving_across_forced_rekeys_never_throws()
    {
        // A new session every 30 packets each way: many handshakes while both NIC threads and both receive threads
        // use the sessions, and older sessions leave (at most three stay receivable).
        void Configure(TincanOptions o) => o.RekeyAfterMessages = 30;
        await using TestNode a = await TestNode.StartAsync("A", configure: Configure);
        await using TestNode b = await TestNode.StartAsync("B", configure: Configure);
        await TestNode.ConnectAsync(a, b);
        a.Nic.DiscardWrites = true;
        b.Nic.DiscardWrites = true;
        var link = (TincanLink)a.LinkTo(b);
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        int sent = 0;
        while ((link.RetiredSessions < 8 || link.GetStats().Handshakes < 10) && DateTime.UtcNow < deadline)
        {
            for (int i = 0; i < 20; i++)
            {
                a.Nic.Inject(TestNode.Packet(b, sent));
                b.Nic.Inject(TestNode.Packet(a, sent));
                sent++;
            }

            await Task.Delay(2, TestContext.Current.CancellationToken);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{sent} packets each way, {link.GetStats().Handshakes} handshakes, {link.RetiredSessions} sessions retired on A");
        Assert.True(link.RetiredSessions >= 8, $"only {link.RetiredSessions} sessions retired in 20 s");
        Assert.Equal(0, a.Manager.Drops.Get(DropReason.HandlerError) + b.Manager.Drops.Get(DropReason.HandlerError));

        // Still working afterwards.
        a.Nic.DiscardWrites = false;
        b.Nic.DiscardWrites = false;
        await TestNode.WaitUntilAsync(() => { a.Nic.Inject(TestNode.Packet(b, -1)); return b.Nic.TakeWritten(TimeSpan.FromMilliseconds(100)) is not null; }, "traffic after the rekeys", TimeSpan.FromSeconds(10));
    }

    private static Session NewSession(out Key send, out Key receive)
    {
        send = TransportCipher.ImportKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        receive = TransportCipher.ImportKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        return new Session(null!, 1, send, receive, 0);
    }
}
