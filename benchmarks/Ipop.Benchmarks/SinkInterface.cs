using System.Net.NetworkInformation;

namespace Ipop.Benchmarks;

/// <summary>
/// A virtual interface for benchmarks: nothing to read, and a write costs only the call (plus one interlocked increment
/// when <paramref name="countWrites"/>, for benchmarks that report what was delivered).
/// </summary>
internal sealed class SinkInterface(VirtualInterfaceMode mode, bool countWrites = false) : IVirtualInterface
{
    private long _count;

    /// <summary>Writes so far (0 unless counting).</summary>
    public long Count => Interlocked.Read(ref _count);

    public string Name => mode == VirtualInterfaceMode.Tap ? "sinktap0" : "sink0";

    public VirtualInterfaceMode Mode => mode;

    public int Mtu => VirtualInterfaceOptions.DefaultMtu; // at most the links' MTU (Tincan refuses more at attach)

    public int Index => 0;

    public PhysicalAddress? MacAddress => null;

    public int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.WaitHandle.WaitOne();
        throw new OperationCanceledException(cancellationToken);
    }

    public bool Write(ReadOnlySpan<byte> packet)
    {
        if (countWrites)
        {
            Interlocked.Increment(ref _count);
        }

        return true;
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => throw new NotSupportedException();

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
