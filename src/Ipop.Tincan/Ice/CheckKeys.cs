using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Ipop.Tincan.Crypto;

namespace Ipop.Tincan.Ice;

/// <summary>
/// The MESSAGE-INTEGRITY keys of the connectivity checks on one link, one per direction. Plain ICE (RFC 8445
/// section 7.2.2) keys a check with the responder's password, and that password goes in the descriptor to every
/// peer: any peer could then forge checks and nominations for any other peer's link. Here each key is derived
/// from the static-static X25519 secret of the two nodes (only they can compute it), mixed with both descriptors'
/// check usernames and passwords (fresh per node run), so a third peer that knows both descriptors still cannot
/// sign a check for the link between them. Nothing changes on the wire: the checks stay STUN short-term checks
/// (RFC 8489 section 9.1) whose key happens not to be the password itself.
/// </summary>
/// <remarks>
/// A request and its response are signed with the same key (section 9.1.3/9.1.4), that of the responder's
/// direction: <see cref="Inbound"/> for checks the peer sends us and our answers, <see cref="Outbound"/> for our
/// checks and the peer's answers. The two differ, so a check cannot be reflected back at its sender.
/// </remarks>
internal sealed class CheckKeys
{
    /// <summary>Length of each key: a SHA-256 output, used as the HMAC-SHA1 key of MESSAGE-INTEGRITY.</summary>
    public const int KeyLength = 32;

    private CheckKeys(byte[] inbound, byte[] outbound)
    {
        Inbound = inbound;
        Outbound = outbound;
    }

    /// <summary>Key of the checks the peer sends us, and of our answers to them.</summary>
    public byte[] Inbound { get; }

    /// <summary>Key of the checks we send the peer, and of its answers.</summary>
    public byte[] Outbound { get; }

    private static ReadOnlySpan<byte> Label => "ipop check key"u8;

    /// <summary>
    /// Derives the keys of the link between <paramref name="local"/> and <paramref name="remote"/>; null when X25519
    /// refuses the peer's key (a low-order point), in which case the link runs no checks. The static-static secret comes
    /// from <paramref name="precomputed"/> when the link manager already holds it for the handshake (one X25519 per
    /// link, not two).
    /// </summary>
    public static CheckKeys? TryDerive(StaticKeyPair local, NodePublicKey remote, string localUsername, string localPassword, string remoteUsername, string remotePassword, PeerStaticSecrets? precomputed = null)
    {
        Span<byte> shared = stackalloc byte[32];
        try
        {
            if (remote.IsEmpty || !((precomputed?.TryGet(remote.Bytes, shared) ?? false) || local.TryDeriveSharedSecret(remote, shared)))
            {
                return null;
            }

            byte[] inbound = Derive(shared, local.PublicKeyBytes, remote.Bytes, localUsername, localPassword, remoteUsername, remotePassword);
            byte[] outbound = Derive(shared, remote.Bytes, local.PublicKeyBytes, remoteUsername, remotePassword, localUsername, localPassword);
            return new CheckKeys(inbound, outbound);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    /// <summary>
    /// HKDF-SHA256 (RFC 5869) of the shared secret; the info names the use and the direction: the label, then the
    /// responder's and the requester's public keys, then the responder's and the requester's username and password,
    /// each length-prefixed so no two inputs encode alike.
    /// </summary>
    internal static byte[] Derive(
        ReadOnlySpan<byte> shared,
        ReadOnlySpan<byte> responderKey,
        ReadOnlySpan<byte> requesterKey,
        string responderUsername,
        string responderPassword,
        string requesterUsername,
        string requesterPassword)
    {
        int length = Label.Length + 1 + responderKey.Length + requesterKey.Length + (4 * 2)
            + Encoding.UTF8.GetByteCount(responderUsername) + Encoding.UTF8.GetByteCount(responderPassword)
            + Encoding.UTF8.GetByteCount(requesterUsername) + Encoding.UTF8.GetByteCount(requesterPassword);
        byte[] info = new byte[length];
        try
        {
            Span<byte> rest = info;
            Label.CopyTo(rest);
            rest = rest[(Label.Length + 1)..];
            responderKey.CopyTo(rest);
            rest = rest[responderKey.Length..];
            requesterKey.CopyTo(rest);
            rest = rest[requesterKey.Length..];
            rest = Append(rest, responderUsername);
            rest = Append(rest, responderPassword);
            rest = Append(rest, requesterUsername);
            Append(rest, requesterPassword);

            byte[] key = new byte[KeyLength];
            Hkdf.DeriveKey(shared, ReadOnlySpan<byte>.Empty, info, key);
            return key;
        }
        finally
        {
            // The passwords are secrets too.
            CryptographicOperations.ZeroMemory(info);
        }
    }

    private static Span<byte> Append(Span<byte> destination, string value)
    {
        int written = Encoding.UTF8.GetBytes(value, destination[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)written);
        return destination[(2 + written)..];
    }
}
