using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.DataPlane.Handshake;

/// <summary>
/// A classic BPF socket filter (SO_ATTACH_FILTER) that drops, in the kernel, handshake initiations without mac2 from
/// the addresses that flood us, letting one in <see cref="SampleOneIn"/> through at random.
/// </summary>
/// <remarks>
/// Why in the kernel: every datagram queued on the socket takes room in its receive buffer and a share of the one
/// receive thread, which also reads every transport packet. When the flood outruns that thread (a loaded machine, a
/// descheduled thread for a few milliseconds at 150k/s), the buffer fills and the kernel drops whatever comes next,
/// the link's packets included, so TCP over the link collapses. A filter drops the flood before the queue, in the
/// softirq of the flooder's own packets, and the receive thread never sees it.
/// <para>What passes: everything that is not an initiation of exactly the right length, every initiation with a
/// mac2 (a cookie proves its address; user space checks it and rate-limits it), and every initiation from an address
/// not listed. The sample keeps the user-space detector informed (it unblocks an address whose flood stopped) and
/// lets a peer that shares the address (a NAT) still earn a cookie, slowly.</para>
/// <para>Offsets: a UDP socket's filter sees the packet from the UDP header on (udp_queue_rcv_one_skb calls
/// sk_filter_trim_cap with the header still in front), so the payload starts at 8; the source address is read
/// through SKF_NET_OFF. Reads past the end of the packet would end the program with a drop, hence the length test
/// before any read past the type byte. A dual-stack socket gets IPv4 packets as IPv4 (skb->protocol 0x0800), so an
/// IPv4-mapped address is listed as IPv4.</para>
/// </remarks>
internal static class FloodSocketFilter
{
    /// <summary>One in this many unproven initiations from a listed address still reaches user space (a power of two).</summary>
    public const int SampleOneIn = 256;

    /// <summary>The most addresses one program lists (classic BPF jumps reach 255 instructions ahead).</summary>
    public const int MaxAddresses = 16;

    private const ushort LdW = 0x00 | 0x00 | 0x20;   // BPF_LD | BPF_W | BPF_ABS
    private const ushort LdB = 0x00 | 0x10 | 0x20;   // BPF_LD | BPF_B | BPF_ABS
    private const ushort LdLen = 0x00 | 0x00 | 0x80; // BPF_LD | BPF_W | BPF_LEN
    private const ushort JeqK = 0x05 | 0x10 | 0x00;  // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort AndK = 0x04 | 0x50 | 0x00;  // BPF_ALU | BPF_AND | BPF_K
    private const ushort RetK = 0x06 | 0x00;         // BPF_RET | BPF_K
    private const int SkfAdOff = -0x1000;
    private const int SkfAdProtocol = 0;
    private const int SkfAdRandom = 56;
    private const int SkfNetOff = -0x100000;
    private const int UdpHeader = 8;
    private const uint EthPIp = 0x0800;
    private const uint EthPIpv6 = 0x86DD;

    /// <summary>One classic BPF instruction (struct sock_filter).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Instruction(ushort code, byte jt, byte jf, uint k)
    {
        public ushort Code = code;
        public byte JumpTrue = jt;
        public byte JumpFalse = jf;
        public uint K = k;
    }

    /// <summary>
    /// The program for <paramref name="sources"/> (IP addresses; ports are ignored), or an empty array when there are none.
    /// </summary>
    public static Instruction[] Build(IReadOnlyList<IPAddress> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0)
        {
            return [];
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(sources.Count, MaxAddresses);
        var v4 = new List<uint>();
        var v6 = new List<uint[]>();
        foreach (IPAddress source in sources)
        {
            IPAddress address = source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source;
            byte[] bytes = address.GetAddressBytes();
            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                v4.Add(BinaryPrimitives.ReadUInt32BigEndian(bytes));
            }
            else
            {
                v6.Add([
                    BinaryPrimitives.ReadUInt32BigEndian(bytes),
                    BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4)),
                    BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8)),
                    BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(12)),
                ]);
            }
        }

        // Assembled with symbolic targets (Accept, Listed) that are resolved once the program's length is known.
        var code = new List<(ushort Code, int True, int False, uint K)>();
        const int Next = 0;
        const int Accept = -1;
        const int Listed = -2;
        const int Skip = -3; // to the next IPv6 address (or Accept after the last)
        int mac2 = UdpHeader + HandshakeInitiationMessage.Length - HandshakeMac.Length;

        code.Add((LdB, 0, 0, UdpHeader));
        code.Add((JeqK, Next, Accept, (uint)MessageType.HandshakeInitiation));
        code.Add((LdLen, 0, 0, 0));
        code.Add((JeqK, Next, Accept, UdpHeader + HandshakeInitiationMessage.Length));
        for (int word = 0; word < HandshakeMac.Length / 4; word++)
        {
            code.Add((LdW, 0, 0, (uint)(mac2 + (4 * word))));
            code.Add((JeqK, Next, Accept, 0));
        }

        code.Add((LdW, 0, 0, unchecked((uint)(SkfAdOff + SkfAdProtocol))));
        int v4Branch = code.Count;
        code.Add((JeqK, 0, Next, EthPIp)); // jt patched below
        code.Add((JeqK, Next, Accept, EthPIpv6));
        var v6Starts = new List<int>();
        foreach (uint[] words in v6)
        {
            v6Starts.Add(code.Count);
            for (int w = 0; w < 4; w++)
            {
                code.Add((LdW, 0, 0, unchecked((uint)(SkfNetOff + 8 + (4 * w)))));
                code.Add((JeqK, w == 3 ? Listed : Next, Skip, words[w]));
            }
        }

        int v6End = code.Count;
        code.Add((JeqK, Accept, Accept, 0)); // an unconditional jump: no IPv6 address matched
        int v4Start = code.Count;
        code.Add((LdW, 0, 0, unchecked((uint)(SkfNetOff + 12))));
        foreach (uint address in v4)
        {
            code.Add((JeqK, Listed, Next, address));
        }

        code.Add((JeqK, Accept, Accept, 0));
        int listed = code.Count;
        code.Add((LdW, 0, 0, unchecked((uint)(SkfAdOff + SkfAdRandom))));
        code.Add((AndK, 0, 0, SampleOneIn - 1));
        code.Add((JeqK, Accept, Next, 0));
        code.Add((RetK, 0, 0, 0));
        int accept = code.Count;
        code.Add((RetK, 0, 0, uint.MaxValue));

        var program = new Instruction[code.Count];
        for (int i = 0; i < code.Count; i++)
        {
            (ushort op, int jt, int jf, uint k) = code[i];
            if (i == v4Branch)
            {
                program[i] = new Instruction(op, Offset(i, v4Start), Offset(i, i + 1), k);
                continue;
            }

            program[i] = new Instruction(op, Target(i, jt), Target(i, jf), k);
        }

        return program;

        byte Target(int at, int target)
        {
            int to = target switch
            {
                Next => at + 1,
                Accept => accept,
                Listed => listed,
                Skip => NextV6(at),
                _ => target,
            };
            return (code[at].Code & 0x07) == 0x05 ? Offset(at, to) : (byte)0;
        }

        int NextV6(int at)
        {
            foreach (int start in v6Starts)
            {
                if (start > at)
                {
                    return start;
                }
            }

            return v6End;
        }

        static byte Offset(int at, int to)
        {
            int jump = to - at - 1;
            if (jump is < 0 or > byte.MaxValue)
            {
                throw new InvalidOperationException($"A filter jump from {at} to {to} is out of classic BPF's reach.");
            }

            return (byte)jump;
        }
    }
}
