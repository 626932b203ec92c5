using Ipop.Tap.Offload;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tap.Tests.Offload;

[Collection(NamespaceCollection.Name)]
public sealed class TunTapDeviceBatchTests(NetworkNamespace ns)
{
    [Fact]
    public void Dropped_frames_are_counted_per_reason_and_logged_at_most_every_ten_seconds()
    {
        ns.RequireRoot();
        var clock = new FakeTimeProvider();
        var logger = new ListLogger();
        using TunTapDevice tun = ns.Enter(() => TunTapDevice.Create(new VirtualInterfaceOptions { Name = "ipopdrop", Up = false }, logger, clock, OffloadFault.None));

        tun.CountDrop(OffloadDropReason.GsoSizeZero);
        tun.CountDrop(OffloadDropReason.Ipv6ExtensionHeader);
        tun.CountDrop(OffloadDropReason.Ipv6ExtensionHeader);
        clock.Advance(TimeSpan.FromSeconds(10));
        tun.CountDrop(OffloadDropReason.ChecksumOffsetOutOfRange);

        Assert.Equal(1, tun.OffloadDrops(OffloadDropReason.GsoSizeZero));
        Assert.Equal(2, tun.OffloadDrops(OffloadDropReason.Ipv6ExtensionHeader));
        Assert.Equal(1, tun.OffloadDrops(OffloadDropReason.ChecksumOffsetOutOfRange));
        Assert.Equal(0, tun.OffloadDrops(OffloadDropReason.IpLengthMismatch));
        Assert.Equal(
            [
                "Warning: Interface ipopdrop dropped a malformed offloaded frame: GsoSizeZero; 1 dropped since the last report",
                "Warning: Interface ipopdrop dropped a malformed offloaded frame: ChecksumOffsetOutOfRange; 3 dropped since the last report",
            ],
            logger.Lines.Where(l => l.StartsWith("Warning", StringComparison.Ordinal)));
    }

    [Fact]
    public void Offload_is_on_by_default_and_says_so_once_at_creation()
    {
        ns.RequireRoot();
        var logger = new ListLogger();
        using TunTapDevice tun = ns.Enter(() => TunTapDevice.Create(new VirtualInterfaceOptions { Name = "ipopdflt", Up = false }, logger, TimeProvider.System));

        Assert.True(new VirtualInterfaceOptions().Offload);
        Assert.True(tun.Offload.Tso);
        Assert.Single(logger.Lines, l => l == "Information: Interface ipopdflt offloads: TSO4 TSO6 USO on");
    }

    [Fact]
    public void ReadBatch_refuses_a_slot_smaller_than_the_mtu()
    {
        ns.RequireRoot();
        using TunTapDevice tun = ns.Enter(() => TunTapDevice.Create(new VirtualInterfaceOptions { Name = "ipopslot", Up = false }, new ListLogger(), TimeProvider.System));
        var batch = new PacketBatch(2);
        batch.Add(new byte[1400]);
        batch.Add(new byte[1399]);

        Assert.Throws<ArgumentException>(() => tun.ReadBatch(batch, CancellationToken.None));
        Assert.Throws<ArgumentException>(() => tun.ReadBatch(new PacketBatch(1), CancellationToken.None));
    }
}
