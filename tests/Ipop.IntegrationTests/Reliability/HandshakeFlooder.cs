using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Ipop.Lab.Namespaces;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane.Udp;
using Ipop.Tincan.Protocol;
using Microsoft.Win32.SafeHandles;

namespace Ipop.IntegrationTests.Reliability;

/// <summary>
/// Issue 13's attacker: unpaced handshake initiations with a valid mac1 (it knows the target's public key) and no
/// cookie, from one address, as fast as one thread can send them. A few thousand distinct messages (random index,
/// ephemeral key and ciphertext) are built up front and sent 64 at a time with sendmmsg, from a dedicated thread that
/// joined the stranger's network namespace (setns changes only the calling thread's namespace, and a socket belongs
/// to the namespace it was created in). Several threads send on that one socket (one source address and port): on a
/// shared, loaded CI machine one thread's share of the CPU is not enough to flood. Bounded in time;
/// <see cref="Dispose"/> stops it early.
/// </summary>
internal sealed unsafe partial class HandshakeFlooder : IDisposable
{
    private const int CLONE_NEWNET = 0x40000000;
    private const int Batch = 64;
    private const int Distinct = 4096;
    private readonly Thread _thread;
    private readonly LabNamespace _from;
    private readonly IPEndPoint _target;
    private readonly byte[] _macKey;
    private readonly TimeSpan _duration;
    private readonly int _senders;
    private volatile bool _stop;
    private long _sent;
    private long _elapsedTicks;
    private string? _error;

    private HandshakeFlooder(LabNamespace from, IPEndPoint target, ReadOnlySpan<byte> targetPublicKey, TimeSpan duration, int senders)
    {
        _senders = senders;
        _from = from;
        _target = target;
        _macKey = HandshakeMac.DeriveKey(targetPublicKey);
        _duration = duration;
        _thread = new Thread(Run) { IsBackground = true, Name = "handshake-flooder" };
    }

    /// <summary>Datagrams handed to the kernel so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>How long it sent (when it has ended).</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(Interlocked.Read(ref _elapsedTicks));

    public bool IsRunning => _thread.IsAlive;

    /// <summary>Why it stopped early, if it did.</summary>
    public string? Error => Volatile.Read(ref _error);

    public static HandshakeFlooder Start(LabNamespace from, IPEndPoint target, ReadOnlySpan<byte> targetPublicKey, TimeSpan duration, int senders = 3)
    {
        var flooder = new HandshakeFlooder(from, target, targetPublicKey, duration, senders);
        flooder._thread.Start();
        return flooder;
    }

    /// <summary>Waits for the end of the flood (its duration, or <see cref="Dispose"/>).</summary>
    public bool Wait(TimeSpan timeout) => _thread.Join(timeout);

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(10));
    }

    private void Run()
    {
        try
        {
            JoinNamespace();
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SendBufferSize = 4 * 1024 * 1024;
            socket.Bind(new IPEndPoint(IPAddress.Any, 0));
            Send(socket.SafeHandle.DangerousGetHandle());
        }
#pragma warning disable CA1031 // Reported to the test through Error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Volatile.Write(ref _error, e.ToString());
        }
    }

    private void JoinNamespace()
    {
        using SafeFileHandle ns = File.OpenHandle("/run/netns/" + _from.Name);
        if (SetNs((int)ns.DangerousGetHandle(), CLONE_NEWNET) != 0)
        {
            throw new InvalidOperationException($"setns into {_from} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private void Send(nint fd)
    {
        int length = HandshakeInitiationMessage.Length;
        byte[] messages = GC.AllocateArray<byte>(Distinct * length, pinned: true);
        for (int i = 0; i < Distinct; i++)
        {
            Span<byte> message = messages.AsSpan(i * length, length);
            HandshakeInitiationMessage.WriteHeader(message, (uint)RandomNumberGenerator.GetInt32(int.MaxValue));
            RandomNumberGenerator.Fill(HandshakeInitiationMessage.NoiseMessage(message));
            HandshakeMac.Write(message, _macKey);
        }

        // sockaddr_in: family (host order), port and address (network order), 8 bytes of zeros.
        byte[] address = GC.AllocateArray<byte>(16, pinned: true);
        BinaryPrimitives.WriteUInt16LittleEndian(address, (ushort)AddressFamily.InterNetwork);
        BinaryPrimitives.WriteUInt16BigEndian(address.AsSpan(2), (ushort)_target.Port);
        _target.Address.GetAddressBytes().CopyTo(address, 4);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var helpers = new Thread[_senders - 1];
        for (int i = 0; i < helpers.Length; i++)
        {
            int first = (i + 1) * Distinct / _senders;
            helpers[i] = new Thread(() => SendLoop(fd, messages, address, first, clock)) { IsBackground = true, Name = "handshake-flooder" };
            helpers[i].Start();
        }

        SendLoop(fd, messages, address, 0, clock);
        foreach (Thread helper in helpers)
        {
            helper.Join();
        }

        Interlocked.Exchange(ref _elapsedTicks, clock.Elapsed.Ticks);
    }

    private void SendLoop(nint fd, byte[] messages, byte[] address, int next, System.Diagnostics.Stopwatch clock)
    {
        int length = HandshakeInitiationMessage.Length;
        var vectors = new UdpInterop.IoVec[Batch];
        var headers = new UdpInterop.MMsgHdr[Batch];
        fixed (byte* messageBase = messages)
        fixed (byte* name = address)
        fixed (UdpInterop.IoVec* iov = vectors)
        fixed (UdpInterop.MMsgHdr* batch = headers)
        {
            for (int i = 0; i < Batch; i++)
            {
                batch[i].Header.Name = name;
                batch[i].Header.NameLength = 16;
                batch[i].Header.Iov = &iov[i];
                batch[i].Header.IovLength = 1;
                iov[i].Length = (nuint)length;
            }

            while (!_stop && clock.Elapsed < _duration)
            {
                for (int i = 0; i < Batch; i++)
                {
                    iov[i].Base = messageBase + (next * length);
                    next = (next + 1) % Distinct;
                }

                int sent = UdpInterop.sendmmsg(fd, batch, Batch, 0);
                if (sent > 0)
                {
                    Interlocked.Add(ref _sent, sent);
                }
                else
                {
                    // ENOBUFS or EAGAIN: the device queue is full for a moment; an attacker just tries again.
                    Thread.Yield();
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
