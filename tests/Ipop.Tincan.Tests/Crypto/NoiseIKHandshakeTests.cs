using Ipop.Tincan.Crypto;
using NSec.Cryptography;

namespace Ipop.Tincan.Tests.Crypto;

public sealed class NoiseIKHandshakeTests
{
    // Noise_IK_25519_ChaChaPoly_SHA256 from cacophony's published vectors (as shipped in snow's tests/vectors/cacophony.txt).
    private const string Prologue = "4a6f686e2047616c74";
    private const string InitStatic = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
    private const string InitEphemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
    private const string InitRemoteStatic = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62";
    private const string RespStatic = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
    private const string RespEphemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
    private const string HandshakeHash = "49fb1c059808ceb4f40d9f0ffc65d71b6cc3b6e2d02d5db7f698137e0b068799";

    private static readonly (string Payload, string Ciphertext)[] Messages =
    [
        ("4c756477696720766f6e204d69736573", "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944718da798efbcd91528520204f904b9bd6c7413dccdc214d951e15253e39987f18146e8cd0873654207148333479d4d16c289f0294b29960a72f48e0b7bba2e89083169825e59642148d492020664ccf7"),
        ("4d757272617920526f746862617264", "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088435361e70b2ed446e6c9ec387d1d6b3b840f194e373979d241b203c4acafccf5"),
        ("462e20412e20486179656b", "050e9f3c8fac16b68dbce8f8c4bfbf6617c897f9ada4aa29aa19c8"),
        ("4361726c204d656e676572", "344233a6cabb7141d80f3da2fedc311d9646bbb0f505afe403a667"),
        ("4a65616e2d426170746973746520536179", "62cdeeb172ad7ade7aa7d9e069da5790f12331bfa00177787a1d0810c67dc3b2b4"),
        ("457567656e2042f6686d20766f6e2042617765726b", "029bead1b40992327044d409d9a1f3ad8f36c3c452775d557e18bbeb2e8dfcead32d514024"),
    ];

    [Fact]
    public void Handshake_and_transport_match_the_cacophony_vectors()
    {
        using StaticKeyPair initiatorStatic = StaticKeyPair.FromPrivateKey(Hex.Bytes(InitStatic));
        using StaticKeyPair responderStatic = StaticKeyPair.FromPrivateKey(Hex.Bytes(RespStatic));
        Assert.Equal(InitRemoteStatic, Hex.Of(responderStatic.PublicKeyBytes));

        using var initiator = new NoiseIKHandshake(true, initiatorStatic, Hex.Bytes(InitRemoteStatic), Hex.Bytes(Prologue), Hex.Bytes(InitEphemeral));
        using var responder = new NoiseIKHandshake(false, responderStatic, default, Hex.Bytes(Prologue), Hex.Bytes(RespEphemeral));

        byte[] payload0 = Hex.Bytes(Messages[0].Payload);
        byte[] message0 = new byte[NoiseIKHandshake.Message1Overhead + payload0.Length];
        Assert.Equal(message0.Length, initiator.WriteMessage1(payload0, message0));
        Assert.Equal(Messages[0].Ciphertext, Hex.Of(message0));

        byte[] read0 = new byte[payload0.Length];
        Assert.True(responder.TryReadMessage1(message0, read0, out int read0Length));
        Assert.Equal(payload0.Length, read0Length);
        Assert.Equal(payload0, read0);
        Assert.Equal(initiatorStatic.PublicKeyBytes, responder.RemoteStatic.ToArray());

        byte[] payload1 = Hex.Bytes(Messages[1].Payload);
        byte[] message1 = new byte[NoiseIKHandshake.Message2Overhead + payload1.Length];
        Assert.Equal(message1.Length, responder.WriteMessage2(payload1, message1));
        Assert.Equal(Messages[1].Ciphertext, Hex.Of(message1));

        byte[] read1 = new byte[payload1.Length];
        Assert.True(initiator.TryReadMessage2(message1, read1, out _));
        Assert.Equal(payload1, read1);

        Assert.Equal(initiator.HandshakeHash.ToArray(), responder.HandshakeHash.ToArray());

        byte[] initiatorKeys = new byte[64];
        byte[] responderKeys = new byte[64];
        initiator.Split(initiatorKeys);
        responder.Split(responderKeys);
        Assert.Equal(initiatorKeys, responderKeys);

        // Transport messages alternate initiator -> responder and back, with per-direction counters from 0.
        using Key toResponder = TransportCipher.ImportKey(initiatorKeys.AsSpan(0, 32));
        using Key toInitiator = TransportCipher.ImportKey(initiatorKeys.AsSpan(32, 32));
        for (int i = 2; i < Messages.Length; i++)
        {
            byte[] payload = Hex.Bytes(Messages[i].Payload);
            byte[] ciphertext = new byte[payload.Length + TransportCipher.TagLength];
            Key key = i % 2 == 0 ? toResponder : toInitiator;
            ulong counter = (ulong)((i - 2) / 2);
            TransportCipher.Seal(key, counter, ReadOnlySpan<byte>.Empty, payload, ciphertext);
            Assert.Equal(Messages[i].Ciphertext, Hex.Of(ciphertext));
        }

        // Every handshake and transport byte above matches the vectors. The file's handshake_hash field is not
        // checked by snow's vector runner either, and does not match the hash that Noise rev. 34 section 5.2
        // defines (h after the last MixHash), which both roles agree on here.
        Assert.NotEqual(HandshakeHash, Hex.Of(initiator.HandshakeHash));
    }

    [Fact]
    public void Handshake_round_trip_gives_both_sides_the_same_keys()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        (byte[] initiatorKeys, byte[] responderKeys, byte[] learned) = RunHandshake(a, b, b.PublicKeyBytes, "Ipop v1"u8.ToArray(), "Ipop v1"u8.ToArray());
        Assert.Equal(initiatorKeys, responderKeys);
        Assert.Equal(a.PublicKeyBytes, learned);
    }

    [Fact]
    public void Tampered_first_message_is_rejected()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        using var initiator = new NoiseIKHandshake(true, a, b.PublicKeyBytes, "Ipop v1"u8);
        byte[] message = new byte[NoiseIKHandshake.Message1Overhead + 12];
        initiator.WriteMessage1(new byte[12], message);
        for (int position = 0; position < message.Length; position += 7)
        {
            byte[] tampered = (byte[])message.Clone();
            tampered[position] ^= 0x01;
            using var responder = new NoiseIKHandshake(false, b, default, "Ipop v1"u8);
            Assert.False(responder.TryReadMessage1(tampered, new byte[12], out _), $"flipped byte {position} was accepted");
        }
    }

    [Fact]
    public void Tampered_second_message_is_rejected()
    {
        using var pair = new HandshakePair();
        byte[] m2 = pair.SecondMessage();
        m2[^1] ^= 0x80;
        Assert.False(pair.Initiator.TryReadMessage2(m2, Span<byte>.Empty, out _));
    }

    [Fact]
    public void A_forged_second_message_leaves_the_initiator_able_to_read_the_genuine_one()
    {
        using var pair = new HandshakePair();
        byte[] genuine = pair.SecondMessage();
        NoiseIKHandshake initiator = pair.Initiator;

        // An on-path injector races the responder: junk, a tampered copy, a truncated one.
        byte[] junk = new byte[NoiseIKHandshake.Message2Overhead];
        Random.Shared.NextBytes(junk);
        Assert.False(initiator.TryReadMessage2(junk, Span<byte>.Empty, out _));
        byte[] tampered = (byte[])genuine.Clone();
        tampered[^1] ^= 0x01;
        Assert.False(initiator.TryReadMessage2(tampered, Span<byte>.Empty, out _));
        Assert.False(initiator.TryReadMessage2(genuine.AsSpan(0, 10), Span<byte>.Empty, out _));

        Assert.True(initiator.TryReadMessage2(genuine, Span<byte>.Empty, out _));
        Assert.Equal(pair.Responder.HandshakeHash.ToArray(), initiator.HandshakeHash.ToArray());
        byte[] keysI = new byte[64];
        byte[] keysR = new byte[64];
        initiator.Split(keysI);
        pair.Responder.Split(keysR);
        Assert.Equal(keysR, keysI);
    }

    [Fact]
    public void A_failed_first_message_leaves_the_responder_able_to_read_a_good_one()
    {
        using var pair = new HandshakePair();
        byte[] m1 = pair.FirstMessage();
        byte[] tampered = (byte[])m1.Clone();
        tampered[40] ^= 0x01;
        Assert.False(pair.Responder.TryReadMessage1(tampered, Span<byte>.Empty, out _));
        Assert.True(pair.Responder.TryReadMessage1(m1, Span<byte>.Empty, out _));
        Assert.Equal(pair.InitiatorKey.PublicKeyBytes, pair.Responder.RemoteStatic.ToArray());
    }

    [Fact]
    public void Initiator_with_the_wrong_responder_key_is_rejected()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        using StaticKeyPair notB = StaticKeyPair.Generate();
        using var initiator = new NoiseIKHandshake(true, a, notB.PublicKeyBytes, "Ipop v1"u8);
        byte[] message = new byte[NoiseIKHandshake.Message1Overhead];
        initiator.WriteMessage1(default, message);
        using var responder = new NoiseIKHandshake(false, b, default, "Ipop v1"u8);
        Assert.False(responder.TryReadMessage1(message, Span<byte>.Empty, out _));
    }

    [Fact]
    public void Different_prologues_do_not_interoperate()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        using var initiator = new NoiseIKHandshake(true, a, b.PublicKeyBytes, "Ipop v1"u8);
        byte[] message = new byte[NoiseIKHandshake.Message1Overhead];
        initiator.WriteMessage1(default, message);
        using var responder = new NoiseIKHandshake(false, b, default, "Ipop v2"u8);
        Assert.False(responder.TryReadMessage1(message, Span<byte>.Empty, out _));
    }

    [Fact]
    public void Low_order_ephemeral_key_is_rejected()
    {
        using StaticKeyPair b = StaticKeyPair.Generate();
        byte[] message = new byte[NoiseIKHandshake.Message1Overhead];

        // The all-zero point has small order: the DH result is zero and must be refused, not used.
        using var responder = new NoiseIKHandshake(false, b, default, "Ipop v1"u8);
        Assert.False(responder.TryReadMessage1(message, Span<byte>.Empty, out _));
    }

    private static (byte[] InitiatorKeys, byte[] ResponderKeys, byte[] Learned) RunHandshake(StaticKeyPair a, StaticKeyPair b, byte[] responderKey, byte[] prologueA, byte[] prologueB)
    {
        using var initiator = new NoiseIKHandshake(true, a, responderKey, prologueA);
        using var responder = new NoiseIKHandshake(false, b, default, prologueB);
        byte[] m1 = new byte[NoiseIKHandshake.Message1Overhead + 5];
        initiator.WriteMessage1("hello"u8, m1);
        byte[] p1 = new byte[5];
        Assert.True(responder.TryReadMessage1(m1, p1, out _));
        Assert.Equal("hello"u8.ToArray(), p1);
        byte[] m2 = new byte[NoiseIKHandshake.Message2Overhead];
        responder.WriteMessage2(default, m2);
        Assert.True(initiator.TryReadMessage2(m2, Span<byte>.Empty, out int len));
        Assert.Equal(0, len);
        byte[] ik = new byte[64];
        byte[] rk = new byte[64];
        initiator.Split(ik);
        responder.Split(rk);
        return (ik, rk, responder.RemoteStatic.ToArray());
    }

    /// <summary>Two fresh static keys and both roles of one handshake, with the messages written on demand.</summary>
    private sealed class HandshakePair : IDisposable
    {
        public StaticKeyPair InitiatorKey { get; } = StaticKeyPair.Generate();

        public StaticKeyPair ResponderKey { get; } = StaticKeyPair.Generate();

        public NoiseIKHandshake Initiator { get; }

        public NoiseIKHandshake Responder { get; }

        public HandshakePair()
        {
            Initiator = new NoiseIKHandshake(true, InitiatorKey, ResponderKey.PublicKeyBytes, "Ipop v1"u8);
            Responder = new NoiseIKHandshake(false, ResponderKey, default, "Ipop v1"u8);
        }

        public byte[] FirstMessage()
        {
            byte[] m1 = new byte[NoiseIKHandshake.Message1Overhead];
            Initiator.WriteMessage1(default, m1);
            return m1;
        }

        /// <summary>The responder's answer to a first message it has read.</summary>
        public byte[] SecondMessage()
        {
            Assert.True(Responder.TryReadMessage1(FirstMessage(), Span<byte>.Empty, out _));
            byte[] m2 = new byte[NoiseIKHandshake.Message2Overhead];
            Responder.WriteMessage2(default, m2);
            return m2;
        }

        public void Dispose()
        {
            Initiator.Dispose();
            Responder.Dispose();
            InitiatorKey.Dispose();
            ResponderKey.Dispose();
        }
    }
}
