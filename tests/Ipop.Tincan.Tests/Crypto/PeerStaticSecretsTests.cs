using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Tests.Crypto;

public sealed class PeerStaticSecretsTests
{
    private static ReadOnlySpan<byte> Prologue => "Ipop v1"u8;

    [Fact]
    public void A_precomputed_static_secret_gives_the_same_handshake_as_computing_it()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        var secrets = new PeerStaticSecrets(b);
        Assert.True(secrets.Add(a.PublicKey));

        using var initiator = new NoiseIKHandshake(true, a, b.PublicKeyBytes, Prologue);
        byte[] m1 = new byte[NoiseIKHandshake.Message1Overhead + 12];
        initiator.WriteMessage1(new byte[12], m1);
        using var responder = new NoiseIKHandshake(false, b, default, Prologue);
        Assert.True(responder.TryReadMessage1(m1, secrets, new byte[12], out int length));
        Assert.Equal(12, length);
        Assert.Equal(a.PublicKeyBytes, responder.RemoteStatic.ToArray());

        byte[] m2 = new byte[NoiseIKHandshake.Message2Overhead];
        responder.WriteMessage2(default, m2);
        Assert.True(initiator.TryReadMessage2(m2, Span<byte>.Empty, out _));
        byte[] ik = new byte[64];
        byte[] rk = new byte[64];
        initiator.Split(ik);
        responder.Split(rk);
        Assert.Equal(ik, rk);
    }

    [Fact]
    public void A_wrong_precomputed_secret_fails_and_a_missing_one_is_computed()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        using StaticKeyPair other = StaticKeyPair.Generate();

        // The table holds the secret of another pair under A's key: the ss mix differs, the payload does not open.
        var wrong = new PeerStaticSecrets(other);
        Assert.True(wrong.Add(a.PublicKey));
        byte[] m1 = FirstMessage(a, b);
        using (var responder = new NoiseIKHandshake(false, b, default, Prologue))
        {
            Assert.False(responder.TryReadMessage1(m1, wrong, new byte[12], out _));

            // The failed read left the responder as it was: without the table it computes ss and succeeds.
            Assert.True(responder.TryReadMessage1(m1, new PeerStaticSecrets(b), new byte[12], out _));
        }

        // Forgotten keys are not found (their secret is zeroed and gone).
        var secrets = new PeerStaticSecrets(b);
        Assert.True(secrets.Add(a.PublicKey));
        secrets.Remove(a.PublicKey);
        Assert.False(secrets.TryGet(a.PublicKeyBytes, new byte[32]));
        Assert.Equal(0, secrets.Count);
    }

    [Fact]
    public void Reading_the_first_message_costs_one_DH_and_makes_no_ephemeral_key()
    {
        using StaticKeyPair a = StaticKeyPair.Generate();
        using StaticKeyPair b = StaticKeyPair.Generate();
        var secrets = new PeerStaticSecrets(b);
        Assert.True(secrets.Add(a.PublicKey));
        byte[] m1 = FirstMessage(a, b);

        using var responder = new NoiseIKHandshake(false, b, default, Prologue);
        Assert.True(responder.TryReadMessage1(m1, secrets, new byte[12], out _));
        Assert.Equal((1, false), responder.Cost);

        // The ephemeral key and the responder's two DHs come only with the answer, after the caller's timestamp check.
        responder.WriteMessage2(default, new byte[NoiseIKHandshake.Message2Overhead]);
        Assert.Equal((3, true), responder.Cost);

        // Without the table (a key no link authorizes) the read computes ss itself: two DHs.
        using var unaided = new NoiseIKHandshake(false, b, default, Prologue);
        Assert.True(unaided.TryReadMessage1(m1, null, new byte[12], out _));
        Assert.Equal((2, false), unaided.Cost);
    }

    private static byte[] FirstMessage(StaticKeyPair a, StaticKeyPair b)
    {
        using var initiator = new NoiseIKHandshake(true, a, b.PublicKeyBytes, Prologue);
        byte[] m1 = new byte[NoiseIKHandshake.Message1Overhead + 12];
        initiator.WriteMessage1(new byte[12], m1);
        return m1;
    }
}
