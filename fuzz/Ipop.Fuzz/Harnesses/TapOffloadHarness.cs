using Ipop.Tap.Offload;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// What the kernel hands a TUN/TAP device with offloads on: a virtio_net_hdr and a (super)packet. The superpacket
/// splitter plans and writes every segment, as <c>TunTapDevice.Read</c> does; the coalescer's segment parser reads
/// the same frame. Byte 0 picks TAP or TUN and whether USO was negotiated. Rejection: an
/// <see cref="OffloadDropReason"/> other than None, or TryParse false.
/// </summary>
internal sealed class TapOffloadHarness : IHarness
{
    private const int EthernetHeaderLength = 14;

    // A caller's buffer sized for a 1500-byte MTU plus the Ethernet header, as the hosts size theirs.
    private readonly byte[] _segment = new byte[1500 + EthernetHeaderLength];
    private readonly byte[] _frame = new byte[VirtioNetHeader.Size + EthernetHeaderLength + SegmentCoalescer.MaxIpLength];

    public string Name => "tap-offload";

    public string Description => "virtio_net_hdr, superpacket splitter and segment parser (Ipop.Tap/Offload)";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1 + VirtioNetHeader.Size || input.Length - 1 > _frame.Length)
        {
            return;
        }

        bool tap = (input[0] & 1) != 0;
        bool uso = (input[0] & 2) != 0;
        int l3Offset = tap ? EthernetHeaderLength : 0;
        var header = VirtioNetHeader.Read(input[1..]);
        Span<byte> frame = _frame.AsSpan(0, input.Length - 1 - VirtioNetHeader.Size);
        input[(1 + VirtioNetHeader.Size)..].CopyTo(frame);

        var coalescer = new SegmentCoalescer(l3Offset, enabled: true, udp: uso);
        _ = coalescer.TryParse(frame, out _);

        if (SuperPacketSplitter.Prepare(frame, header, l3Offset, uso, out SegmentationPlan plan) != OffloadDropReason.None
            || plan.LargestSegment > _segment.Length)
        {
            return;
        }

        // The first and last 32 segments: where the arithmetic on offsets and the short tail can go wrong.
        for (int i = 0; i < plan.SegmentCount; i++)
        {
            if (i == 32 && plan.SegmentCount > 64)
            {
                i = plan.SegmentCount - 32;
            }

            int length = SuperPacketSplitter.WriteSegment(frame, plan, i, _segment);
            // An empty frame is one empty segment; anything outside the caller's buffer is a finding.
            if (length < 0 || length > _segment.Length)
            {
                throw new InvalidOperationException($"Segment {i} of {plan.SegmentCount} has length {length}.");
            }
        }
    }
}
