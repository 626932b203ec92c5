using Ipop.Tincan.Protocol;

namespace Ipop.Fuzz.Harnesses;

/// <summary>
/// The Tincan wire messages' readers (transport header, handshake initiation and response), each applied to the
/// whole input as the receive path would. Rejection: false.
/// </summary>
internal sealed class TincanMessagesHarness : IHarness
{
    public string Name => "tincan-messages";

    public string Description => "Tincan transport and handshake message readers (Ipop.Tincan/Protocol)";

    public void Run(ReadOnlySpan<byte> input)
    {
        _ = TransportHeader.TryRead(input, out _, out _, out _);
        if (HandshakeInitiationMessage.TryRead(input, out _, out ReadOnlySpan<byte> initiation) && initiation.Length != HandshakeInitiationMessage.NoiseLength)
        {
            throw new InvalidOperationException($"Initiation accepted with a {initiation.Length}-byte Noise message.");
        }

        if (HandshakeResponseMessage.TryRead(input, out _, out _, out ReadOnlySpan<byte> response) && response.Length != HandshakeResponseMessage.NoiseLength)
        {
            throw new InvalidOperationException($"Response accepted with a {response.Length}-byte Noise message.");
        }
    }
}
