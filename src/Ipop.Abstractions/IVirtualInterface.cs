using System.Net.NetworkInformation;

namespace Ipop;

/// <summary>
/// A virtual network interface (TUN or TAP) that the library created and owns. Packets the kernel
/// routes to it are read here; packets written here are delivered to the kernel's network stack.
/// Disposing removes the device.
/// </summary>
/// <remarks>
/// Reads and writes move exactly one packet (TUN) or frame (TAP) into or from caller-provided
/// memory, so a data-plane thread can run without allocating. <see cref="Read"/> blocks the
/// calling thread and is meant for a dedicated data-plane thread; it observes cancellation
/// within a few hundred milliseconds.
/// </remarks>
public interface IVirtualInterface : IDisposable
{
    /// <summary>The interface name the kernel assigned (e.g. <c>ipop0</c>).</summary>
    string Name { get; }

    /// <summary>TUN or TAP.</summary>
    VirtualInterfaceMode Mode { get; }

    /// <summary>The configured MTU.</summary>
    int Mtu { get; }

    /// <summary>The kernel interface index.</summary>
    int Index { get; }

    /// <summary>TAP only: the interface's MAC address; <c>null</c> for TUN.</summary>
    PhysicalAddress? MacAddress { get; }

    /// <summary>
    /// Reads one packet or frame into <paramref name="buffer"/>, blocking until one arrives.
    /// </summary>
    /// <returns>The number of bytes read.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The interface was disposed.</exception>
    int Read(Span<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Writes one packet or frame to the kernel.</summary>
    /// <returns><c>false</c> if the kernel rejected the packet (malformed, or the device is down); the caller counts a drop.</returns>
    bool Write(ReadOnlySpan<byte> packet);

    /// <summary>
    /// Reads one or more packets or frames, blocking until at least one arrives. Entry <c>i</c> of
    /// <paramref name="batch"/> is a buffer (each at least MTU bytes, plus 14 for TAP); on return entries
    /// <c>0..n-1</c> are trimmed to the packets read into them. A device with segmentation offload hands one
    /// large TCP send from the kernel out as several MTU-sized packets here.
    /// </summary>
    /// <returns>The number of packets read, at least 1.</returns>
    /// <exception cref="ArgumentException">The batch holds no buffer.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The interface was disposed.</exception>
    int ReadBatch(PacketBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            throw new ArgumentException("The batch holds no buffer to read into; Add at least one.", nameof(batch));
        }

        int length = Read(batch[0].Span, cancellationToken);
        batch.SetLength(0, length);
        return 1;
    }

    /// <summary>
    /// Writes every packet or frame in <paramref name="batch"/> to the kernel. A device with receive offload
    /// coalesces consecutive segments of one TCP flow into one large packet, which costs the kernel one pass
    /// through its stack instead of one per segment.
    /// </summary>
    /// <returns>How many packets the kernel accepted; the caller counts the rest as drops.</returns>
    int WriteBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int written = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            if (Write(batch[i].Span))
            {
                written++;
            }
        }

        return written;
    }

    /// <summary>Reads one packet asynchronously (convenience for tests and tools; not for hot loops).</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Adds an IPv4 or IPv6 address with its prefix length.</summary>
    void AddAddress(InterfaceAddress address);

    /// <summary>Removes an address that was added before.</summary>
    void RemoveAddress(InterfaceAddress address);

    /// <summary>Changes the MTU.</summary>
    void SetMtu(int mtu);

    /// <summary>Sets the administrative state up or down.</summary>
    void SetUp(bool up);
}
