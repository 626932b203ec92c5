using System.Net;
using System.Text.Json;
using static Ipop.Tap.Tests.TestDevices;

namespace Ipop.Tap.Tests;

[Collection(NamespaceCollection.Name)]
public sealed class TunDeviceTests(NetworkNamespace ns)
{
    private static readonly IPAddress Peer4 = IPAddress.Parse("198.19.0.2");
    private static readonly IPAddress Peer6 = IPAddress.Parse("2001:2::2");

    private IVirtualInterface CreateTun(string name, bool up = true) => ns.Enter(() => Factory.Create(new VirtualInterfaceOptions
    {
        Name = name,
        Mode = VirtualInterfaceMode.Tun,
        Mtu = 1400,
        Addresses = [InterfaceAddress.Parse("198.19.0.1/24"), InterfaceAddress.Parse("2001:2::1/64")],
        Up = up,
    }));

    [Fact]
    public void Tun_gets_its_addresses_mtu_and_up_state_through_rtnetlink()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipoptun0");

        Assert.Equal("ipoptun0", tun.Name);
        Assert.Equal(VirtualInterfaceMode.Tun, tun.Mode);
        Assert.Null(tun.MacAddress);
        JsonElement link = Show(ns, "addr", "ipoptun0") ?? throw new InvalidOperationException("link missing");
        Assert.Equal(tun.Index, link.GetProperty("ifindex").GetInt32());
        Assert.Equal(1400, link.GetProperty("mtu").GetInt32());
        Assert.Contains("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        JsonElement[] addresses = [.. link.GetProperty("addr_info").EnumerateArray()];
        Assert.Contains(addresses, a => a.GetProperty("local").GetString() == "198.19.0.1" && a.GetProperty("prefixlen").GetInt32() == 24);
        JsonElement v6 = Assert.Single(addresses, a => a.GetProperty("local").GetString() == "2001:2::1");
        Assert.Equal(64, v6.GetProperty("prefixlen").GetInt32());
        // IFA_F_NODAD: usable at once, never "tentative".
        Assert.True(v6.TryGetProperty("nodad", out _), v6.ToString());
        Assert.False(v6.TryGetProperty("tentative", out _), v6.ToString());
    }

    [Fact]
    public async Task Kernel_ping_over_tun_is_answered_with_a_hand_crafted_ipv4_echo_reply()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipoptun4");
        Task<CommandResult> ping = ns.ExecAsync("ping", "-c1", "-W3", "198.19.0.2");

        byte[] buffer = new byte[2048];
        int n = ReadUntil(tun, buffer, (b, len) => PacketCrafter.IsIcmpEchoRequest(b.AsSpan(0, len), Peer4));
        PacketCrafter.MakeIcmpEchoReply(buffer.AsSpan(0, n));
        Assert.True(tun.Write(buffer.AsSpan(0, n)));

        CommandResult result = await ping;
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("1 received", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kernel_ping6_over_tun_is_answered_with_a_hand_crafted_icmpv6_echo_reply()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipoptun6");
        Task<CommandResult> ping = ns.ExecAsync("ping", "-6", "-c1", "-W3", "2001:2::2");

        byte[] buffer = new byte[2048];
        using var cts = new CancellationTokenSource(4000);
        int n = 0;
        for (int i = 0; i < 200; i++)
        {
            n = await tun.ReadAsync(buffer, cts.Token);
            if (PacketCrafter.IsIcmpv6EchoRequest(buffer.AsSpan(0, n), Peer6))
            {
                break;
            }
        }

        Assert.True(PacketCrafter.IsIcmpv6EchoRequest(buffer.AsSpan(0, n), Peer6));
        PacketCrafter.MakeIcmpv6EchoReply(buffer.AsSpan(0, n));
        Assert.True(tun.Write(buffer.AsSpan(0, n)));

        CommandResult result = await ping;
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("1 received", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Kernel_picks_the_name_when_none_is_given()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Up = false }));

        Assert.StartsWith("tun", tun.Name, StringComparison.Ordinal);
        Assert.NotNull(Show(ns, "link", tun.Name));
    }

    [Fact]
    public void Addresses_mtu_and_state_change_after_creation()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = ns.Enter(() => Factory.Create(new VirtualInterfaceOptions { Name = "ipopchg", Up = false }));
        JsonElement link = Show(ns, "addr", "ipopchg")!.Value;
        Assert.DoesNotContain("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));

        var address = InterfaceAddress.Parse("198.19.7.1/16");
        tun.AddAddress(address);
        tun.SetMtu(1280);
        tun.SetUp(true);
        link = Show(ns, "addr", "ipopchg")!.Value;
        Assert.Equal(1280, link.GetProperty("mtu").GetInt32());
        Assert.Equal(1280, tun.Mtu);
        Assert.Contains("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains(link.GetProperty("addr_info").EnumerateArray(), a => a.GetProperty("local").GetString() == "198.19.7.1");

        VirtualInterfaceException duplicate = Assert.Throws<VirtualInterfaceException>(() => tun.AddAddress(address));
        Assert.StartsWith("Adding address 198.19.7.1/16 to ipopchg failed: File exists (EEXIST)", duplicate.Message, StringComparison.Ordinal);
        Assert.Equal(17, duplicate.ErrorNumber);

        tun.RemoveAddress(address);
        tun.SetUp(false);
        link = Show(ns, "addr", "ipopchg")!.Value;
        Assert.DoesNotContain(link.GetProperty("addr_info").EnumerateArray(), a => a.GetProperty("local").GetString() == "198.19.7.1");
        Assert.DoesNotContain("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));

        VirtualInterfaceException missing = Assert.Throws<VirtualInterfaceException>(() => tun.RemoveAddress(address));
        Assert.StartsWith("Removing address 198.19.7.1/16 from ipopchg failed: ", missing.Message, StringComparison.Ordinal);
        Assert.Equal(99, missing.ErrorNumber); // EADDRNOTAVAIL
    }

    [Fact]
    public void Dispose_removes_the_interface()
    {
        ns.RequireRoot();
        IVirtualInterface tun = CreateTun("ipopgone");
        Assert.NotNull(Show(ns, "link", "ipopgone"));

        tun.Dispose();
        tun.Dispose();

        Assert.Null(Show(ns, "link", "ipopgone"));
        Assert.Throws<ObjectDisposedException>(() => tun.Read(new byte[64], CancellationToken.None));
        Assert.False(tun.Write([0x45, 0, 0, 20]));
    }

    [Fact]
    public void Read_observes_cancellation_within_a_second()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipopcncl", up: false);
        using var cts = new CancellationTokenSource(150);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();

        Assert.ThrowsAny<OperationCanceledException>(() => tun.Read(new byte[2048], cts.Token));

        long elapsed = ElapsedMilliseconds(start);
        Assert.InRange(elapsed, 100, 1000);
    }

    [Fact]
    public void Dispose_wakes_a_blocked_reader_at_once()
    {
        ns.RequireRoot();
        IVirtualInterface tun = CreateTun("ipopwake", up: false);
        Exception? seen = null;
        var reader = new Thread(() =>
        {
            try
            {
                _ = tun.Read(new byte[2048], CancellationToken.None);
            }
            catch (Exception e)
            {
                seen = e;
            }
        });
        reader.Start();
        Thread.Sleep(200);

        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        tun.Dispose();
        Assert.True(reader.Join(1000), "reader still blocked 1 s after dispose");

        Assert.IsType<ObjectDisposedException>(seen);
        Assert.InRange(ElapsedMilliseconds(start), 0, 1000);
        Assert.Null(Show(ns, "link", "ipopwake"));
    }

    [Fact]
    public void Writing_garbage_returns_false_and_counts_a_drop()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipopjunk");
        var device = (TunTapDevice)tun;

        // A TUN with IFF_NO_PI takes the IP version from the first nibble; 0xF is neither 4 nor 6 (EINVAL).
        Assert.False(tun.Write([0xFF, 0x00, 0x13, 0x37, 1, 2, 3, 4]));
        Assert.False(tun.Write([]));
        Assert.Equal(2, device.WriteDrops);

        // The device keeps working afterwards.
        byte[] valid = [.. Convert.FromHexString("4500001c000000004001" + "0000" + "c6130002" + "c6130001" + "0000000000000000")];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(valid.AsSpan(10), PacketCrafter.Checksum(valid.AsSpan(0, 20)));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(valid.AsSpan(22), PacketCrafter.Checksum(valid.AsSpan(20)));
        Assert.True(tun.Write(valid));
        Assert.Equal(2, device.WriteDrops);
    }

    [Fact]
    public void Write_and_read_allocate_nothing_per_packet()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipopalloc");
        // An echo request from the peer to our address: the kernel answers it back into the TUN.
        byte[] request = Convert.FromHexString("4500001c00000000400100" + "00" + "c6130002" + "c6130001" + "0800f7ff00000000");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(10), PacketCrafter.Checksum(request.AsSpan(0, 20)));
        byte[] buffer = new byte[2048];
        using var cts = new CancellationTokenSource(10_000);

        int RoundTrips(int count)
        {
            int replies = 0;
            for (int i = 0; i < count; i++)
            {
                Assert.True(tun.Write(request));
                for (int j = 0; j < 50; j++)
                {
                    int n = tun.Read(buffer, cts.Token);
                    if (n == request.Length && buffer[9] == 1 && buffer[20] == 0)
                    {
                        replies++;
                        break;
                    }
                }
            }

            return replies;
        }

        Assert.Equal(100, RoundTrips(100));
        long before = GC.GetAllocatedBytesForCurrentThread();
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        int replies = RoundTrips(5000);
        double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(5000, replies);
        Assert.Equal(0, allocated);
        TestContext.Current.TestOutputHelper?.WriteLine($"{replies / seconds:F0} write+read round trips per second through the kernel");
    }

    [Fact]
    public void Read_refuses_a_buffer_smaller_than_the_mtu_instead_of_truncating_silently()
    {
        ns.RequireRoot();
        using IVirtualInterface tun = CreateTun("ipopsmall", up: false);

        var e = Assert.Throws<ArgumentException>(() => tun.Read(new byte[1399], CancellationToken.None));

        Assert.StartsWith("The buffer holds 1399 bytes but ipopsmall delivers packets of up to 1400 bytes (its MTU); the kernel would silently truncate larger ones.", e.Message, StringComparison.Ordinal);
    }
}
