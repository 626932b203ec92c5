using System.Buffers.Binary;
using Ipop.Controllers.SocialVpn;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The SocialVPN IPv4 address translator (IPv4, TCP, UDP, ICMP and ICMP's quoted packets) on a packet from a
/// friend. The harness writes the expected source and destination into the header, so most inputs get past the
/// anti-spoofing check into the rewrite. Rejection: a <see cref="Ipv4AddressTranslator.Result"/> other than Translated.
/// </summary>
internal sealed class TranslatorHarness : IHarness
{
    // 198.18.x.x: the friend's own address, its view of us, our view of it, and ours.
    private static readonly Ipv4Translation Translation = new(0xC6120102, 0xC6120203, 0xC6120304, 0xC6120405);
    private readonly byte[] _packet = new byte[65536];

    public string Name => "socialvpn-translator";

    public string Description => "SocialVPN IPv4/TCP/UDP/ICMP address translator (Ipop.Controllers/SocialVpn)";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length > _packet.Length)
        {
            return;
        }

        Span<byte> packet = _packet.AsSpan(0, input.Length);
        input.CopyTo(packet);

        // An input whose second byte ends in 0xF keeps its own addresses, so the anti-spoofing checks stay covered.
        if (packet.Length >= 20 && (packet[1] & 0x0F) != 0x0F)
        {
            BinaryPrimitives.WriteUInt32BigEndian(packet[12..], Translation.PeerSelf);
            BinaryPrimitives.WriteUInt32BigEndian(packet[16..], Translation.PeerViewOfMe);
        }

        _ = Ipv4AddressTranslator.TranslateInbound(packet, Translation);
    }
}
