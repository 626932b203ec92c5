using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.DataPlane.Handshake;
using Ipop.Tincan.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tincan.Tests.DataPlane.Handshake;

/// <summary>
/// Issue 13: the kernel filter for a flooding address, on a real socket over loopback. It must drop that address's
/// initiations without mac2 (all but a random sample) and nothing else: not its initiations with mac2, not its other
/// datagrams, not another address's initiations.
/// </summary>
public sealed class FloodSocketFilterTests(ITestOutputHelper output)
{
    private const int Marker = 0x7E;
    private const int Flood = 4096;

    public static TheoryData<string> Listens => new() { "127.0.0.1", "0.0.0.0" };

    [Theory]
    [MemberData(nameof(Listens))]
    public void A_listed_address_loses_its_unproven_initiations_in_the_kernel_and_nothing_else(string listen)
    {
        using var mux = new UdpMux(IPAddress.Parse(listen), 0, 8 << 20, new DropCounters(), NullLogger.Instance);
        var handler = new CountingHandler();
        mux.RegisterHandler(0, 255, handler);
        mux.Start();
        var target = new IPEndPoint(IPAddress.Loopback, mux.LocalEndPoint.Port);
        using Socket flooder = Bound("127.0.0.2");
        using Socket other = Bound("127.0.0.3");

        Assert.True(mux.SetFilter(FloodSocketFilter.Build([IPAddress.Parse("127.0.0.2")])));
        byte[] unproven = Initiation(mac2: false);
        byte[] proven = Initiation(mac2: true);
        for (int i = 0; i < Flood; i++)
        {
            flooder.SendTo(unproven, target);
        }

        Send(flooder, target, proven, 20);
        Send(flooder, target, Datagram(MessageType.TransportData, 64), 20);
        Send(flooder, target, Datagram(MessageType.HandshakeInitiation, 100), 20);
        Send(other, target, unproven, 20);
        Sync(other, target, handler);

        // The sample is one in 256 at random: about 16 of 4,096; 64 would be four times that.
        int sampled = handler.Count(IPAddress.Parse("127.0.0.2"), unproven.Length, mac2: false);
        output.WriteLine($"{sampled} of {Flood} unproven initiations from the listed address let through");
        Assert.InRange(sampled, 0, 64);
        Assert.Equal(20, handler.Count(IPAddress.Parse("127.0.0.2"), proven.Length, mac2: true));
        Assert.Equal(20, handler.Count(IPAddress.Parse("127.0.0.2"), 64, mac2: null));
        Assert.Equal(20, handler.Count(IPAddress.Parse("127.0.0.2"), 100, mac2: null));
        Assert.Equal(20, handler.Count(IPAddress.Parse("127.0.0.3"), unproven.Length, mac2: false));

        // Removed: the address is heard again in full.
        Assert.True(mux.SetFilter([]));
        handler.Clear();
        Send(flooder, target, unproven, 50);
        Sync(other, target, handler);
        Assert.Equal(50, handler.Count(IPAddress.Parse("127.0.0.2"), unproven.Length, mac2: false));
    }

    [Fact]
    public void An_ipv6_address_is_matched_on_all_sixteen_bytes()
    {
        using var mux = new UdpMux(IPAddress.IPv6Any, 0, 8 << 20, new DropCounters(), NullLogger.Instance);
        var handler = new CountingHandler();
        mux.RegisterHandler(0, 255, handler);
        mux.Start();
        using Socket v6 = Bound("::1");
        using Socket v4 = Bound("127.0.0.3");
        byte[] unproven = Initiation(mac2: false);

        // A listed address that differs from ::1 only in its last byte must not catch ::1.
        Assert.True(mux.SetFilter(FloodSocketFilter.Build([IPAddress.Parse("::2")])));
        Send(v6, new IPEndPoint(IPAddress.IPv6Loopback, mux.LocalEndPoint.Port), unproven, 30);
        Sync(v4, new IPEndPoint(IPAddress.Loopback, mux.LocalEndPoint.Port), handler);
        Assert.Equal(30, handler.Count(IPAddress.IPv6Loopback, unproven.Length, mac2: false));

        Assert.True(mux.SetFilter(FloodSocketFilter.Build([IPAddress.Parse("198.18.0.9"), IPAddress.IPv6Loopback])));
        handler.Clear();
        Send(v6, new IPEndPoint(IPAddress.IPv6Loopback, mux.LocalEndPoint.Port), unproven, Flood);
        Send(v4, new IPEndPoint(IPAddress.Loopback, mux.LocalEndPoint.Port), unproven, 30);
        Sync(v4, new IPEndPoint(IPAddress.Loopback, mux.LocalEndPoint.Port), handler);
        Assert.InRange(handler.Count(IPAddress.IPv6Loopback, unproven.Length, mac2: false), 0, 64);
        Assert.Equal(30, handler.Count(IPAddress.Parse("127.0.0.3"), unproven.Length, mac2: false));
    }

    [Fact]
    public void The_program_for_sixteen_addresses_of_both_families_fits_classic_bpf()
    {
        var sources = Enumerable.Range(1, 8).Select(i => IPAddress.Parse($"198.18.0.{i}"))
            .Concat(Enumerable.Range(1, 8).Select(i => IPAddress.Parse($"2001:2::{i}"))).ToList();
        FloodSocketFilter.Instruction[] program = FloodSocketFilter.Build(sources);
        Assert.InRange(program.Length, 1, 255);
        Assert.Empty(FloodSocketFilter.Build([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => FloodSocketFilter.Build([.. sources, IPAddress.Loopback]));
    }

    private static Socket Bound(string address)
    {
        IPAddress ip = IPAddress.Parse(address);
        var socket = new Socket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { SendBufferSize = 1 << 20 };
        socket.Bind(new IPEndPoint(ip, 0));
        return socket;
    }

    private static void Send(Socket from, IPEndPoint to, byte[] datagram, int count)
    {
        for (int i = 0; i < count; i++)
        {
            from.SendTo(datagram, to);
        }
    }

    // Loopback delivers in order: once the marker is in, everything sent before it has been received or dropped.
    private static void Sync(Socket from, IPEndPoint to, CountingHandler handler)
    {
        from.SendTo(new byte[] { Marker, 1, 2, 3 }, to);
        Assert.True(handler.MarkerSeen.Wait(TimeSpan.FromSeconds(10)), "the marker never arrived");
        handler.MarkerSeen.Reset();
    }

    private static byte[] Initiation(bool mac2)
    {
        byte[] message = Datagram(MessageType.HandshakeInitiation, HandshakeInitiationMessage.Length);
        message.AsSpan(message.Length - 16).Fill(mac2 ? (byte)0x5A : (byte)0);
        return message;
    }

    private static byte[] Datagram(MessageType type, int length)
    {
        byte[] d = new byte[length];
        d.AsSpan().Fill(0x33);
        d[0] = (byte)type;
        d[1] = d[2] = d[3] = 0;
        return d;
    }

    private sealed class CountingHandler : IDatagramHandler
    {
        private readonly ConcurrentDictionary<(IPAddress, int, bool?), int> _counts = new();

        public ManualResetEventSlim MarkerSeen { get; } = new();

        public void OnDatagram(Memory<byte> data, SocketAddress from)
        {
            if (data.Span[0] == Marker)
            {
                MarkerSeen.Set();
                return;
            }

            IPAddress address = UdpMux.ToEndPoint(from)!.Address;
            bool? mac2 = data.Span[0] == (byte)MessageType.HandshakeInitiation && data.Length == HandshakeInitiationMessage.Length
                ? data.Span[^16..].IndexOfAnyExcept((byte)0) >= 0
                : null;
            _counts.AddOrUpdate((address, data.Length, mac2), 1, (_, n) => n + 1);
        }

        public int Count(IPAddress from, int length, bool? mac2) => _counts.GetValueOrDefault((from, length, mac2));

        public void Clear() => _counts.Clear();
    }
}
