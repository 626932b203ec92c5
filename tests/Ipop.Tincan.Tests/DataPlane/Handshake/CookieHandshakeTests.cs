using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane.Handshake;

/// <summary>Issue 13: two real nodes on loopback, one or both under handshake load (cookies) or flooded.</summary>
public sealed class CookieHandshakeTests
{
    [Fact]
    public async Task An_initiator_answered_with_a_cookie_retransmits_with_mac2_and_connects()
    {
        await using TestNode a = await TestNode.StartAsync("K", configure: o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        await using TestNode b = await TestNode.StartAsync("L", configure: o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        a.Manager.Handshakes.Load.Forced = true;
        b.Manager.Handshakes.Load.Forced = true;

        await TestNode.ConnectAsync(a, b);

        // Whichever side initiated got a cookie reply first and a response only to its retransmission.
        long cookiesSent = a.Manager.Drops.Get(DropReason.HandshakeCookieRequired) + b.Manager.Drops.Get(DropReason.HandshakeCookieRequired);
        Assert.True(cookiesSent >= 1, "no initiation was answered with a cookie");
        Assert.True(((TincanLink)a.LinkTo(b)).HasCookie || ((TincanLink)b.LinkTo(a)).HasCookie);

        a.Nic.Inject(TestNode.Packet(b, 1));
        await TestNode.WaitUntilAsync(() => b.Nic.WrittenCount >= 1, "a packet over the link made with a cookie");
    }

    [Fact]
    public async Task A_flood_of_initiations_with_a_valid_mac1_is_refused_cheaply_and_the_link_keeps_carrying_packets()
    {
        await using TestNode a = await TestNode.StartAsync("M");
        await using TestNode b = await TestNode.StartAsync("N");
        try
        {
            await TestNode.ConnectAsync(a, b);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException($"a: {Dump(a)} b: {Dump(b)} q={b.Manager.Handshakes.Queue.Waiting}");
        }

        LinkDescriptor db = await b.DescriptorAsync();
        IPEndPoint target = db.Candidates[0].EndPoint;

        using var flooder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        flooder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        byte[][] messages = new byte[64][];
        for (int i = 0; i < messages.Length; i++)
        {
            messages[i] = CookieTests.Initiation(b.Manager.LocalKey.Bytes.ToArray(), (uint)i);
        }

        int sequence = 0;
        int sent = 0;
        var flood = System.Diagnostics.Stopwatch.StartNew();
        while (flood.Elapsed < TimeSpan.FromSeconds(2) && sent < 400_000)
        {
            for (int i = 0; i < 1000; i++)
            {
                flooder.SendTo(messages[sent++ % messages.Length], target);
            }

            a.Nic.Inject(TestNode.Packet(b, sequence++));
        }

        // The flood's address was seen at a flooding rate and is now dropped by the socket's kernel filter.
        Assert.Equal([IPAddress.Loopback], b.Manager.Handshakes.Flooding.Addresses());

        // Packets sent during the flood shared the socket buffer with it until the filter was set (the kernel drops
        // some of both); the link itself must come out of it working, on the session it had.
        Assert.True(b.Nic.WrittenCount > 0, $"none of {sequence} packets got through the flood");
        int before = b.Nic.WrittenCount;
        for (int i = 0; i < 10; i++)
        {
            a.Nic.Inject(TestNode.Packet(b, sequence++));
        }

        await TestNode.WaitUntilAsync(() => b.Nic.WrittenCount >= before + 10, $"10 packets after the flood (a: {Dump(a)}; b: {Dump(b)}; {b.Nic.WrittenCount - before} arrived)", TimeSpan.FromSeconds(15));
        long refused = b.Manager.Drops.Get(DropReason.HandshakeCookieRequired) + b.Manager.Drops.Get(DropReason.CookieReplyLimited);
        long dhFailures = b.Manager.Drops.Get(DropReason.AuthenticationFailed);
        // What the node saw of the flood before the filter (at least the 1,000 that listed the address) and its sample.
        Assert.True(refused >= FloodingSources.BlockPerSecond, $"{refused} of {sent} flood messages refused before DH ({dhFailures} reached the DH)");

        // The DH work the flood caused is bounded by the queue and the load threshold, not by the flood's size (before
        // the queue, the receive thread did the DH of every message it read: tens of thousands here).
        Assert.True(dhFailures < sent / 20, $"{dhFailures} of {sent} flood messages reached the DH");

        // Quiet for two seconds: the address is unlisted (by the tick or the next batch) and the filter removed.
        await TestNode.WaitUntilAsync(() =>
        {
            a.Nic.Inject(TestNode.Packet(b, sequence++));
            return b.Manager.Handshakes.Flooding.Listed == 0;
        }, "the flooder unlisted after the flood", TimeSpan.FromSeconds(10));
    }

    private static string Dump(TestNode n) =>
        string.Join(",", Enum.GetValues<DropReason>().Select(r => $"{r}={n.Manager.Drops.Get(r)}").Where(x => !x.EndsWith("=0", StringComparison.Ordinal)));
}
