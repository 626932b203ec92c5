using System.Net.NetworkInformation;

namespace Ipop.Simulator;

/// <summary>Virtual interfaces that exist only as their configuration: the simulator routes by the controllers' route tables, no packet is read or written.</summary>
internal sealed class SimInterfaces : IVirtualInterfaceFactory
{
    public IVirtualInterface Create(VirtualInterfaceOptions options) => new SimInterface(options);

    private sealed class SimInterface(VirtualInterfaceOptions options) : IVirtualInterface
    {
        public string Name => options.Name;

        public VirtualInterfaceMode Mode => options.Mode;

        public int Mtu => options.Mtu;

        public int Index => 1;

        public PhysicalAddress? MacAddress => null;

        public int Read(Span<byte> buffer, CancellationToken cancellationToken)
        {
            cancellationToken.WaitHandle.WaitOne();
            throw new OperationCanceledException(cancellationToken);
        }

        public bool Write(ReadOnlySpan<byte> packet) => true;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => ValueTask.FromResult(Read(buffer.Span, cancellationToken));

        public void AddAddress(InterfaceAddress address)
        {
        }

        public void RemoveAddress(InterfaceAddress address)
        {
        }

        public void SetMtu(int mtu)
        {
        }

        public void SetUp(bool up)
        {
        }

        public void Dispose()
        {
        }
    }
}
