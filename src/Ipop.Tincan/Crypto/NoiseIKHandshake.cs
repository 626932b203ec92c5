using System.Security.Cryptography;
using NSec.Cryptography;

namespace Ipop.Tincan.Crypto;

/// <summary>
/// The Noise IK handshake (Noise spec rev. 34, sections 5 and 7.5) with X25519, ChaCha20-Poly1305 and SHA-256:
/// <c>&lt;- s ... -&gt; e, es, s, ss ... &lt;- e, ee, se</c>. The initiator knows the responder's static key in
/// advance; its first message already carries (encrypted) and proves its own static key, so a responder can
/// authorize the initiator before it answers, as WireGuard does.
/// </summary>
/// <remarks>
/// One instance runs one handshake for one role; it is not used on the data path and may allocate. A message is
/// committed only once it has been read completely: a read that fails leaves the handshake as it was. Costs are kept
/// off untrusted input: the ephemeral key is made only when a message is written (a responder makes it after the
/// caller checked message 1's timestamp), and a responder given the precomputed <c>ss</c> of authorized peers
/// (<see cref="PeerStaticSecrets"/>) reads message 1 with one DH.
/// </remarks>
internal sealed class NoiseIKHandshake : IDisposable
{
    public const int DhLength = 32;
    public const int HashLength = 32;
    public const int TagLength = TransportCipher.TagLength;

    /// <summary>Length of message 1 without payload: e, encrypted s.</summary>
    public const int Message1Overhead = DhLength + DhLength + TagLength + TagLength;

    /// <summary>Length of message 2 without payload: e, tag of the (possibly empty) payload.</summary>
    public const int Message2Overhead = DhLength + TagLength;

    private readonly bool _initiator;
    private readonly StaticKeyPair _static;
    private readonly byte[] _ck = new byte[HashLength];
    private readonly byte[] _h = new byte[HashLength];
    private readonly byte[] _k = new byte[TransportCipher.KeyLength];
    private readonly byte[]? _fixedEphemeral;
    private Key? _ephemeral;
    private byte[]? _remoteStatic;
    private byte[]? _remoteEphemeral;
    private int _dhCount;
    private bool _hasKey;
    private ulong _n;
    private int _step;

    private sealed record SymmetricState(byte[] Ck, byte[] H, byte[] K, bool HasKey, ulong N, byte[]? RemoteStatic, byte[]? RemoteEphemeral);

    /// <summary>Starts a handshake.</summary>
    /// <param name="initiator">The role.</param>
    /// <param name="localStatic">Our static key pair.</param>
    /// <param name="remoteStatic">Initiator only: the responder's static public key (the IK pre-message).</param>
    /// <param name="prologue">Bound into the transcript; both sides must use the same (Noise spec 6).</param>
    /// <param name="ephemeralPrivateKey">Tests only: a fixed ephemeral key for known-answer vectors.</param>
    public NoiseIKHandshake(bool initiator, StaticKeyPair localStatic, ReadOnlySpan<byte> remoteStatic, ReadOnlySpan<byte> prologue, ReadOnlySpan<byte> ephemeralPrivateKey = default)
    {
        _initiator = initiator;
        _static = localStatic;
        _fixedEphemeral = ephemeralPrivateKey.IsEmpty ? null : ephemeralPrivateKey.ToArray();

        // InitializeSymmetric: the protocol name is exactly HASHLEN bytes, so it is used as h directly (spec 5.2).
        ReadOnlySpan<byte> name = "Noise_IK_25519_ChaChaPoly_SHA256"u8;
        name.CopyTo(_h);
        _h.CopyTo(_ck, 0);
        MixHash(prologue);

        // Pre-message pattern "<- s": both hash the responder's static public key.
        if (initiator)
        {
            if (remoteStatic.Length != DhLength)
            {
                throw new ArgumentException("The initiator must know the responder's 32-byte static key.", nameof(remoteStatic));
            }

            _remoteStatic = remoteStatic.ToArray();
            MixHash(_remoteStatic);
        }
        else
        {
            MixHash(localStatic.PublicKeyBytes);
        }
    }

    /// <summary>The remote static public key: known up front for an initiator, learned from message 1 for a responder.</summary>
    public ReadOnlySpan<byte> RemoteStatic => _remoteStatic;

    /// <summary>X25519 operations done so far (the cost a peer can make us pay), and whether our ephemeral key exists yet.</summary>
    internal (int DhCount, bool HasEphemeral) Cost => (_dhCount, _ephemeral is not null);

    /// <summary>The handshake hash (channel binding; compared with the test vectors).</summary>
    public ReadOnlySpan<byte> HandshakeHash => _h;

    /// <summary>Initiator: writes <c>e, es, s, ss</c> and the encrypted payload.</summary>
    /// <returns>Bytes written (<see cref="Message1Overhead"/> + payload length).</returns>
    public int WriteMessage1(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        Require(_initiator && _step == 0);
        _step = 1;
        int at = 0;
        (Key ephemeral, byte[] ephemeralPublic) = CreateEphemeral();
        ephemeralPublic.CopyTo(message);
        MixHash(ephemeralPublic);
        at += DhLength;
        if (!MixKeyDh(ephemeral, _remoteStatic))
        {
            throw new CryptographicException("The responder's static key is not a valid X25519 public key.");
        }

        at += EncryptAndHash(_static.PublicKeyBytes, message[at..]);
        if (!MixKeyDh(_static.PrivateKey, _remoteStatic))
        {
            throw new CryptographicException("The responder's static key is not a valid X25519 public key.");
        }

        at += EncryptAndHash(payload, message[at..]);
        return at;
    }

    /// <summary>Responder: reads message 1, learning and authenticating the initiator's static key.</summary>
    /// <returns><c>false</c> when the message is malformed or does not authenticate; the handshake is then unchanged.</returns>
    public bool TryReadMessage1(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength) =>
        TryReadMessage1(message, null, payload, out payloadLength);

    /// <summary>
    /// Responder: reads message 1, taking <c>ss</c> from <paramref name="precomputed"/> when it holds the initiator's
    /// key (one DH in all), and computing it otherwise (an initiator no link authorizes: the caller refuses it after).
    /// </summary>
    /// <returns><c>false</c> when the message is malformed or does not authenticate; the handshake is then unchanged.</returns>
    public bool TryReadMessage1(ReadOnlySpan<byte> message, PeerStaticSecrets? precomputed, Span<byte> payload, out int payloadLength)
    {
        Require(!_initiator && _step == 0);
        SymmetricState before = Save();
        return Commit(before, ReadMessage1(message, precomputed, payload, out payloadLength), nextStep: 1);
    }

    private bool ReadMessage1(ReadOnlySpan<byte> message, PeerStaticSecrets? precomputed, Span<byte> payload, out int payloadLength)
    {
        payloadLength = 0;
        if (message.Length < Message1Overhead || payload.Length < message.Length - Message1Overhead)
        {
            return false;
        }

        _remoteEphemeral = message[..DhLength].ToArray();
        MixHash(_remoteEphemeral);
        if (!MixKeyDh(_static.PrivateKey, _remoteEphemeral))
        {
            return false;
        }

        Span<byte> rs = stackalloc byte[DhLength];
        if (!DecryptAndHash(message.Slice(DhLength, DhLength + TagLength), rs))
        {
            return false;
        }

        _remoteStatic = rs.ToArray();
        Span<byte> ss = stackalloc byte[DhLength];
        try
        {
            bool mixed = precomputed is not null && precomputed.TryGet(_remoteStatic, ss)
                ? MixKey(ss)
                : MixKeyDh(_static.PrivateKey, _remoteStatic);
            if (!mixed)
            {
                return false;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ss);
        }

        ReadOnlySpan<byte> encryptedPayload = message[(DhLength + DhLength + TagLength)..];
        payloadLength = encryptedPayload.Length - TagLength;
        return DecryptAndHash(encryptedPayload, payload);
    }

    /// <summary>Responder: writes <c>e, ee, se</c> and the encrypted payload.</summary>
    public int WriteMessage2(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        Require(!_initiator && _step == 1);
        _step = 2;
        (Key ephemeral, byte[] ephemeralPublic) = CreateEphemeral();
        ephemeralPublic.CopyTo(message);
        MixHash(ephemeralPublic);
        if (!MixKeyDh(ephemeral, _remoteEphemeral) || !MixKeyDh(ephemeral, _remoteStatic))
        {
            throw new CryptographicException("The initiator's keys are not valid X25519 public keys.");
        }

        return DhLength + EncryptAndHash(payload, message[DhLength..]);
    }

    /// <summary>Initiator: reads message 2.</summary>
    /// <returns>
    /// <c>false</c> when the message is malformed or does not authenticate; the handshake is then unchanged, so a
    /// forged response injected on the path cannot spoil the state that the genuine response completes.
    /// </returns>
    public bool TryReadMessage2(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength)
    {
        Require(_initiator && _step == 1);
        SymmetricState before = Save();
        return Commit(before, ReadMessage2(message, payload, out payloadLength), nextStep: 2);
    }

    private bool ReadMessage2(ReadOnlySpan<byte> message, Span<byte> payload, out int payloadLength)
    {
        payloadLength = 0;
        if (message.Length < Message2Overhead || payload.Length < message.Length - Message2Overhead)
        {
            return false;
        }

        _remoteEphemeral = message[..DhLength].ToArray();
        MixHash(_remoteEphemeral);
        if (_ephemeral is null || !MixKeyDh(_ephemeral, _remoteEphemeral) || !MixKeyDh(_static.PrivateKey, _remoteEphemeral))
        {
            return false;
        }

        ReadOnlySpan<byte> encryptedPayload = message[DhLength..];
        payloadLength = encryptedPayload.Length - TagLength;
        return DecryptAndHash(encryptedPayload, payload);
    }

    /// <summary>
    /// Split (spec 5.2): the initiator-to-responder key and the responder-to-initiator key, as raw bytes (64 bytes
    /// written: first 32 for initiator to responder).
    /// </summary>
    public void Split(Span<byte> keys)
    {
        Require(_step == 2);
        Hkdf(_ck, ReadOnlySpan<byte>.Empty, keys[..64]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ephemeral?.Dispose();
        if (_fixedEphemeral is not null)
        {
            CryptographicOperations.ZeroMemory(_fixedEphemeral);
        }

        CryptographicOperations.ZeroMemory(_k);
        CryptographicOperations.ZeroMemory(_ck);
    }

    /// <summary>
    /// Reading a message mixes into the symmetric state as it goes, so a message that fails part-way would leave
    /// a trace. The state is small: it is saved before a read and put back when the read fails.
    /// </summary>
    private SymmetricState Save() => new((byte[])_ck.Clone(), (byte[])_h.Clone(), (byte[])_k.Clone(), _hasKey, _n, _remoteStatic, _remoteEphemeral);

    private bool Commit(SymmetricState before, bool read, int nextStep)
    {
        if (read)
        {
            _step = nextStep;
        }
        else
        {
            before.Ck.CopyTo(_ck, 0);
            before.H.CopyTo(_h, 0);
            before.K.CopyTo(_k, 0);
            _hasKey = before.HasKey;
            _n = before.N;
            _remoteStatic = before.RemoteStatic;
            _remoteEphemeral = before.RemoteEphemeral;
        }

        CryptographicOperations.ZeroMemory(before.Ck);
        CryptographicOperations.ZeroMemory(before.K);
        return read;
    }

    // The ephemeral key pair, made when our message is written: a responder makes none for a message 1 it refuses.
    // Imported from our own random bytes: NSec's Key.Create draws its seed from RandomNumberGenerator, which loads
    // OpenSSL (see Sodium); an X25519 private key is just 32 random bytes, so the two are the same key.
    private (Key Key, byte[] Public) CreateEphemeral()
    {
        Span<byte> seed = stackalloc byte[DhLength];
        try
        {
            if (_fixedEphemeral is null)
            {
                SecureRandom.Fill(seed);
            }
            else
            {
                _fixedEphemeral.CopyTo(seed);
            }

            _ephemeral = Key.Import(KeyAgreementAlgorithm.X25519, seed, KeyBlobFormat.RawPrivateKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }

        return (_ephemeral, _ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    private static void Require(bool condition)
    {
        if (!condition)
        {
            throw new InvalidOperationException("Noise handshake step out of order.");
        }
    }

    // HKDF(ck, ikm) of Noise (spec 4.3): RFC 5869 HKDF-SHA256 with salt = ck and empty info (Hkdf takes the empty
    // input key material of Split(), which NSec's HkdfSha256 refuses).
    internal static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output) =>
        Crypto.Hkdf.DeriveKey(inputKeyMaterial, chainingKey, ReadOnlySpan<byte>.Empty, output);

    // h = HASH(h || data), without concatenating them.
    private void MixHash(ReadOnlySpan<byte> data) => Sha256.Hash(_h, data, _h);

    private bool MixKeyDh(Key privateKey, ReadOnlySpan<byte> publicKey)
    {
        if (!PublicKey.TryImport(KeyAgreementAlgorithm.X25519, publicKey, KeyBlobFormat.RawPublicKey, out PublicKey? pub) || pub is null)
        {
            return false;
        }

        Span<byte> dh = stackalloc byte[DhLength];
        _dhCount++;
        try
        {
            using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(privateKey, pub, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
            return secret is not null && secret.TryExport(SharedSecretBlobFormat.RawSharedSecret, dh, out int written) && written == DhLength && MixKey(dh);
        }
        catch (CryptographicException)
        {
            // libsodium refuses low-order points (an all-zero shared secret).
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dh);
        }
    }

    // MixKey (spec 5.2) of a DH output.
    private bool MixKey(ReadOnlySpan<byte> dh)
    {
        Span<byte> output = stackalloc byte[2 * HashLength];
        Hkdf(_ck, dh, output);
        output[..HashLength].CopyTo(_ck);
        output[HashLength..].CopyTo(_k);
        CryptographicOperations.ZeroMemory(output);
        _hasKey = true;
        _n = 0;
        return true;
    }

    private int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (!_hasKey)
        {
            plaintext.CopyTo(destination);
            MixHash(plaintext);
            return plaintext.Length;
        }

        int length = plaintext.Length + TagLength;
        using (Key key = TransportCipher.ImportKey(_k))
        {
            TransportCipher.Seal(key, _n++, _h, plaintext, destination[..length]);
        }

        MixHash(destination[..length]);
        return length;
    }

    private bool DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        if (!_hasKey)
        {
            ciphertext.CopyTo(destination);
            MixHash(ciphertext);
            return true;
        }

        bool ok;
        using (Key key = TransportCipher.ImportKey(_k))
        {
            ok = TransportCipher.Open(key, _n, _h, ciphertext, destination);
        }

        if (!ok)
        {
            return false;
        }

        _n++;
        MixHash(ciphertext);
        return true;
    }
}
