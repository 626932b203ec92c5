using System.Collections.Concurrent;
using System.Net.NetworkInformation;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>Creates in-memory interfaces that record their configuration.</summary>
/// <param name="mac">The MAC of the TAP interfaces it creates (default 02:00:00:00:00:07).</param>
internal sealed class FakeInterfaceFactory(PhysicalAddress? mac = null) : IVirtualInterfaceFactory
{
    public List<FakeInterface> Created { get; } = [];

    public IVirtualInterface Create(VirtualInterfaceOptions options)
    {
        var nic = new FakeInterface(options, mac ?? PhysicalAddress.Parse("02-00-00-00-00-07"));
        Created.Add(nic);
        return nic;
    }
}

internal sealed class FakeInterface(VirtualInterfaceOptions options, PhysicalAddress tapMac) : IVirtualInterface
{
    private readonly ConcurrentDictionary<InterfaceAddress, byte> _addresses = new(options.Addresses.Select(a => KeyValuePair.Create(a, (byte)0)));

    public VirtualInterfaceOptions Options { get; } = options;

    public string Name => Options.Name;

    public VirtualInterfaceMode Mode => Options.Mode;

    public int Mtu => Options.Mtu;

    public int Index => 7;

    public PhysicalAddress? MacAddress => Mode == VirtualInterfaceMode.Tap ? tapMac : null;

    public IReadOnlyCollection<InterfaceAddress> Addresses => [.. _addresses.Keys];

    public ConcurrentQueue<byte[]> Written { get; } = new();

    public bool Disposed { get; private set; }

    public int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.WaitHandle.WaitOne();
        throw new OperationCanceledException(cancellationToken);
    }

    public bool Write(ReadOnlySpan<byte> packet)
    {
        Written.Enqueue(packet.ToArray());
        return true;
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => ValueTask.FromResult(Read(buffer.Span, cancellationToken));

    public void AddAddress(InterfaceAddress address) => _addresses[address] = 0;

    public void RemoveAddress(InterfaceAddress address) => _addresses.TryRemove(address, out _);

    public void SetMtu(int mtu)
    {
    }

    public void SetUp(bool up)
    {
    }

    public void Dispose() => Disposed = true;
}
