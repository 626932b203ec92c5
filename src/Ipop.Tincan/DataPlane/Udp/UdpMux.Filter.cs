using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ipop.Tincan.DataPlane.Handshake;

namespace Ipop.Tincan.DataPlane;

/// <summary>The socket's kernel filter: a handshake flood's datagrams dropped before they take room in the receive queue.</summary>
internal sealed unsafe partial class UdpMux
{
    private const int SoAttachFilter = 26;
    private const int SoDetachFilter = 27;

    /// <summary>
    /// Replaces the socket's classic BPF filter with <paramref name="program"/> (empty: removes it). Rare (when the set
    /// of flooding addresses changes), never per packet. False where the kernel refused or the platform has none.
    /// </summary>
    public bool SetFilter(FloodSocketFilter.Instruction[] program)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            if (program.Length == 0)
            {
                Span<byte> none = stackalloc byte[4];
                _socket.SetRawSocketOption(SolSocket, SoDetachFilter, none);
                return true;
            }

            fixed (FloodSocketFilter.Instruction* code = program)
            {
                // struct sock_fprog: unsigned short len, then (aligned) struct sock_filter *filter. The kernel copies
                // the program during the call, so the pin can end with it.
                var fprog = new SockFprog { Length = (ushort)program.Length, Filter = code };
                _socket.SetRawSocketOption(SolSocket, SoAttachFilter, new ReadOnlySpan<byte>(&fprog, sizeof(SockFprog)));
            }

            return true;
        }
        catch (SocketException) when (program.Length == 0)
        {
            // ENOENT: there was no filter to remove.
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public FloodSocketFilter.Instruction* Filter;
    }
}
