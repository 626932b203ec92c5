using System.Net;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.DataPlane.Handshake;

/// <summary>Issue 13: the receive thread's cheap checks: rate limiter, load detection, the bounded queue, the gate.</summary>
public sealed class HandshakeGateTests
{
    private static SocketAddress Address(string ip, int port = 5000) => new IPEndPoint(IPAddress.Parse(ip), port).Serialize();

    [Fact]
    public void The_rate_limiter_allows_a_burst_of_five_then_twenty_per_second_per_ip()
    {
        var time = new FakeTimeProvider();
        var limiter = new SourceRateLimiter(time, perSecond: 20, burst: 5);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(limiter.Allow(Address("198.18.0.1", 5000 + i)));
        }

        // Another port of the same address shares its bucket; another address has its own.
        Assert.False(limiter.Allow(Address("198.18.0.1", 6000)));
        Assert.True(limiter.Allow(Address("198.18.0.2")));
        Assert.True(limiter.Allow(Address("2001:2::1")));

        time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.False(limiter.Allow(Address("198.18.0.1")));
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.True(limiter.Allow(Address("198.18.0.1")));
        Assert.False(limiter.Allow(Address("198.18.0.1")));

        // A long pause refills no more than the burst.
        time.Advance(TimeSpan.FromMinutes(1));
        int allowed = 0;
        for (int i = 0; i < 20; i++)
        {
            allowed += limiter.Allow(Address("198.18.0.1")) ? 1 : 0;
        }

        Assert.Equal(5, allowed);
    }

    [Fact]
    public void The_rate_limiter_table_stays_bounded_and_fails_open_for_addresses_evicted_by_many_others()
    {
        var time = new FakeTimeProvider();
        var limiter = new SourceRateLimiter(time, perSecond: 20, burst: 5);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(limiter.Allow(Address("198.18.0.1")));
        }

        for (int i = 0; i < 60_000; i++)
        {
            _ = limiter.Allow(new IPEndPoint(new IPAddress(0x0000_12C6u + ((uint)i << 16)), 1).Serialize());
        }

        // The 4,096-slot table was overwritten many times over: the address starts again rather than being refused.
        Assert.True(limiter.Allow(Address("198.18.0.1")));
    }

    [Fact]
    public void Load_begins_at_an_eighth_of_the_queue_and_holds_for_a_second()
    {
        var time = new FakeTimeProvider();
        var load = new HandshakeLoad(time, threshold: 32);
        Assert.False(load.IsUnderLoad(31));
        Assert.True(load.IsUnderLoad(32));
        time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.True(load.IsUnderLoad(0));
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(load.IsUnderLoad(0));
    }

    [Fact]
    public void The_queue_refuses_messages_beyond_its_capacity_and_drains_them_in_order_with_their_addresses()
    {
        var seen = new List<(byte Marker, IPEndPoint? From)>();
        int scheduled = 0;
        var queue = new HandshakeQueue(4, slot => seen.Add((slot.Message[1], Ipop.Tincan.DataPlane.UdpMux.ToEndPoint(slot.Address))), _ => scheduled++);
        byte[] message = new byte[HandshakeInitiationMessage.Length];
        for (int i = 0; i < 6; i++)
        {
            message[1] = (byte)i;
            bool accepted = queue.TryEnqueue(message, Address(i % 2 == 0 ? "198.18.0.1" : "2001:2::5", 7000 + i), relay: null);
            Assert.Equal(i < 4, accepted);
        }

        Assert.Equal(1, scheduled);
        Assert.Equal(4, queue.Waiting);
        queue.Drain();
        Assert.Equal(0, queue.Waiting);
        Assert.Equal([0, 1, 2, 3], seen.Select(s => (int)s.Marker));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:2::5"), 7003), seen[3].From);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.0.1"), 7002), seen[2].From);

        // Drained: the next message schedules a new drain.
        Assert.True(queue.TryEnqueue(message, Address("198.18.0.1"), relay: null));
        Assert.Equal(2, scheduled);
    }

    [Fact]
    public void Under_load_an_initiation_without_mac2_gets_a_cookie_and_one_with_it_is_rate_limited_per_address()
    {
        using StaticKeyPair keys = StaticKeyPair.Generate();
        var time = new FakeTimeProvider();
        var gate = new HandshakeGate(keys.PublicKeyBytes, time, _ => { }, _ => { });
        SocketAddress from = Address("198.18.0.1");
        byte[] message = CookieTests.Initiation(keys.PublicKeyBytes);

        // Not under load: queued, no cookie asked for.
        Assert.Equal(HandshakeAdmission.Queue, gate.Admit(message, from));

        // Fill the queue to the load threshold (an eighth): now mac2 is required.
        for (int i = 1; i < HandshakeGate.QueueCapacity / 8; i++)
        {
            Assert.True(gate.Queue.TryEnqueue(message, from, null));
        }

        Assert.True(gate.Queue.TryEnqueue(message, from, null));
        Assert.Equal(HandshakeAdmission.SendCookie, gate.Admit(message, from));

        // Cookie replies to one address are rate-limited too.
        int cookies = 1;
        for (int i = 0; i < 20; i++)
        {
            cookies += gate.Admit(message, from) == HandshakeAdmission.SendCookie ? 1 : 0;
        }

        Assert.Equal(HandshakeGate.CookieRepliesPerSecond, cookies);

        byte[] cookie = new byte[CookieReplyMessage.CookieLength];
        gate.Cookies.ComputeCookie(from, cookie);
        HandshakeMac.WriteMac2(message, cookie);
        int queued = 0;
        for (int i = 0; i < 20; i++)
        {
            HandshakeAdmission admission = gate.Admit(message, from);
            Assert.NotEqual(HandshakeAdmission.SendCookie, admission);
            queued += admission == HandshakeAdmission.Queue ? 1 : 0;
        }

        Assert.Equal(HandshakeGate.InitiationBurst, queued);

        // The cookie is bound to the address: from another port it does not pass.
        Assert.NotEqual(HandshakeAdmission.Queue, gate.Admit(message, Address("198.18.0.1", 5001)));
    }

    [Fact]
    public void Under_load_junk_without_mac2_is_refused_for_its_mac1_only_until_its_address_has_had_its_cookies()
    {
        using StaticKeyPair keys = StaticKeyPair.Generate();
        using StaticKeyPair other = StaticKeyPair.Generate();
        var gate = new HandshakeGate(keys.PublicKeyBytes, new FakeTimeProvider(), _ => { }, _ => { });
        gate.Load.Forced = true;
        byte[] junk = CookieTests.Initiation(other.PublicKeyBytes);
        SocketAddress from = Address("198.18.0.7");
        Assert.Equal(HandshakeAdmission.WrongMac1, gate.Admit(junk, from));
        for (int i = 1; i < HandshakeGate.CookieRepliesPerSecond; i++)
        {
            Assert.Equal(HandshakeAdmission.WrongMac1, gate.Admit(junk, from));
        }

        // Its cookie replies for this second are spent: decided by a table lookup, before any MAC.
        Assert.Equal(HandshakeAdmission.CookieLimited, gate.Admit(junk, from));
        Assert.Equal(HandshakeAdmission.WrongMac1, gate.Admit(junk, Address("198.18.0.8")));

        // Not under load, a wrong mac1 is what refuses it.
        gate.Load.Forced = false;
        Assert.Equal(HandshakeAdmission.WrongMac1, gate.Admit(junk, from));
    }
}
