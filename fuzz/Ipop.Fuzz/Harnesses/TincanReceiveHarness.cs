using System.Net;
using Ipop.Tincan;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The link manager's receive path (<c>LinkManager.OnIpopDatagram</c>): transport packets and handshake messages
/// from a stranger. A handshake message of the right length gets a correct mac1 for this node's key, so the fuzzer
/// gets past the MAC into the Noise IK read (X25519 on arbitrary points, AEAD on arbitrary ciphertext). Rejection:
/// every datagram is dropped and counted; nothing may throw.
/// </summary>
internal sealed class TincanReceiveHarness : IHarness
{
    private readonly LinkManager _manager;
    private readonly SocketAddress _from = new IPEndPoint(IPAddress.Parse("198.18.0.9"), 40000).Serialize();
    private readonly byte[] _scratch = new byte[65536];

    public TincanReceiveHarness()
    {
        // Never started: the receive path needs no socket, and no packet leaves this process.
        _manager = (LinkManager)TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
    }

    public string Name => "tincan-receive";

    public string Description => "Tincan receive path with handshake reading (LinkManager.OnIpopDatagram, NoiseIKHandshake)";

    public void Run(ReadOnlySpan<byte> input)
    {
        // The socket hands over only non-empty datagrams whose first byte is an Ipop type (4-7).
        if (input.IsEmpty || input[0] is < 4 or > 7 || input.Length > _scratch.Length)
        {
            return;
        }

        Span<byte> datagram = _scratch.AsSpan(0, input.Length);
        input.CopyTo(datagram);
        if ((input[0] == (byte)MessageType.HandshakeInitiation && input.Length == HandshakeInitiationMessage.Length)
            || (input[0] == (byte)MessageType.HandshakeResponse && input.Length == HandshakeResponseMessage.Length))
        {
            HandshakeMac.Write(datagram, _manager.OwnMacKey);
        }

        _manager.OnIpopDatagram(datagram, _from);
    }
}
