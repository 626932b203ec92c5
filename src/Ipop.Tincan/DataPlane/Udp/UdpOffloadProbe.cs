using System.Net.Sockets;

namespace Ipop.Tincan.DataPlane.Udp;

/// <summary>What a UDP socket can do beyond one datagram per system call, found out once at start.</summary>
/// <param name="BatchSize">Messages per recvmmsg/sendmmsg; 1 means plain recvfrom/sendto.</param>
/// <param name="Gso">Whether sends carry UDP_SEGMENT (generic segmentation offload).</param>
/// <param name="GsoState">"on", or "off (reason)", for the start-up log line.</param>
/// <param name="Gro">Whether UDP_GRO is enabled, so one received message may hold many datagrams.</param>
/// <param name="GroState">"on", or "off (reason)".</param>
internal readonly record struct UdpOffload(int BatchSize, bool Gso, string GsoState, bool Gro, string GroState);

/// <summary>Probes and enables UDP batching and offloads on a socket (Linux 5.0+ for UDP_GRO, 4.18+ for UDP_SEGMENT).</summary>
internal static class UdpOffloadProbe
{
    private const string On = "on";

    /// <summary>
    /// Decides the batch size, checks UDP_SEGMENT and enables UDP_GRO on <paramref name="socket"/> as asked.
    /// Never throws for a missing feature: the answer says what is off and why.
    /// </summary>
    public static UdpOffload Probe(Socket socket, int batchSize, bool segmentationOffload, bool receiveOffload)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            return new UdpOffload(1, false, "off (not Linux)", false, "off (not Linux)");
        }

        if (batchSize <= 1)
        {
            // recvfrom cannot return the UDP_GRO control message, and sendto has no room for UDP_SEGMENT.
            return new UdpOffload(1, false, "off (batch size 1)", false, "off (batch size 1)");
        }

        string gsoState = !segmentationOffload ? "off (Tincan:UdpSegmentationOffload is false)" : ProbeGso(socket);
        string groState = !receiveOffload ? "off (Tincan:UdpReceiveOffload is false)" : EnableGro(socket);
        return new UdpOffload(batchSize, gsoState == On, gsoState, groState == On, groState);
    }

    private static string ProbeGso(Socket socket)
    {
        // Reading the option succeeds exactly when the kernel knows UDP_SEGMENT (as wireguard-go checks it);
        // whether the egress device can checksum is only known at the first send (EIO, handled there).
        Span<byte> value = stackalloc byte[sizeof(int)];
        try
        {
            socket.GetRawSocketOption(UdpInterop.SOL_UDP, UdpInterop.UDP_SEGMENT, value);
            return On;
        }
        catch (SocketException e)
        {
            return $"off (kernel: {e.SocketErrorCode})";
        }
    }

    private static string EnableGro(Socket socket)
    {
        Span<byte> value = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(value, 1);
        try
        {
            socket.SetRawSocketOption(UdpInterop.SOL_UDP, UdpInterop.UDP_GRO, value);
            return On;
        }
        catch (SocketException e)
        {
            return $"off (kernel: {e.SocketErrorCode})";
        }
    }
}
