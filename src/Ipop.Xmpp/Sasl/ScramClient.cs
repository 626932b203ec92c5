using System.Security.Cryptography;
using System.Text;

namespace Ipop.Xmpp.Sasl;

/// <summary>
/// Client side of SCRAM (RFC 5802) with SHA-1 or SHA-256 (RFC 7677), without channel binding
/// (gs2 header <c>n,,</c>). It verifies the server signature, so a server that does not know the
/// password cannot complete authentication.
/// </summary>
internal sealed class ScramClient
{
    private readonly HashAlgorithmName _hash;
    private readonly string _user;
    private readonly string _password;
    private readonly string _clientNonce;
    private string? _clientFirstBare;
    private byte[]? _serverSignature;

    public ScramClient(HashAlgorithmName hash, string user, string password, string? clientNonce = null)
    {
        _hash = hash;
        _user = user;
        _password = password;
        _clientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
    }

    /// <summary>The SASL mechanism name.</summary>
    public string Mechanism => _hash == HashAlgorithmName.SHA256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";

    /// <summary>client-first-message (RFC 5802 §7).</summary>
    public string ClientFirst()
    {
        _clientFirstBare = $"n={EscapeName(_user)},r={_clientNonce}";
        return "n,," + _clientFirstBare;
    }

    /// <summary>client-final-message for the server-first-message; remembers the expected server signature.</summary>
    /// <exception cref="SaslException">The server's challenge is malformed or unsafe.</exception>
    public string ClientFinal(string serverFirst)
    {
        if (_clientFirstBare is null)
        {
            throw new InvalidOperationException("ClientFirst must be called first.");
        }

        Dictionary<char, string> attrs = ParseAttributes(serverFirst);
        if (attrs.ContainsKey('m'))
        {
            throw new SaslException("SCRAM server requires an unsupported extension (m=).");
        }

        if (!attrs.TryGetValue('r', out string? nonce) || !nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || nonce.Length == _clientNonce.Length)
        {
            throw new SaslException("SCRAM server nonce does not extend the client nonce.");
        }

        if (!attrs.TryGetValue('s', out string? saltText) || !attrs.TryGetValue('i', out string? iterText))
        {
            throw new SaslException("SCRAM server-first-message lacks salt or iteration count.");
        }

        byte[] salt;
        try
        {
            salt = Convert.FromBase64String(saltText);
        }
        catch (FormatException)
        {
            throw new SaslException("SCRAM salt is not base64.");
        }

        if (!int.TryParse(iterText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int iterations) || iterations < 1 || iterations > 1_000_000)
        {
            throw new SaslException($"SCRAM iteration count '{iterText}' is out of range (1..1000000).");
        }

        int hashLength = _hash == HashAlgorithmName.SHA256 ? 32 : 20;
        byte[] saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(_password), salt, iterations, _hash, hashLength);
        byte[] clientKey = Hmac(saltedPassword, "Client Key");
        byte[] storedKey = CryptographicOperations.HashData(_hash, clientKey);
        string withoutProof = $"c=biws,r={nonce}";
        string authMessage = $"{_clientFirstBare},{serverFirst},{withoutProof}";
        byte[] clientSignature = Hmac(storedKey, authMessage);
        byte[] proof = new byte[clientKey.Length];
        for (int i = 0; i < proof.Length; i++)
        {
            proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        }

        byte[] serverKey = Hmac(saltedPassword, "Server Key");
        _serverSignature = Hmac(serverKey, authMessage);
        CryptographicOperations.ZeroMemory(saltedPassword);
        CryptographicOperations.ZeroMemory(clientKey);
        return $"{withoutProof},p={Convert.ToBase64String(proof)}";
    }

    /// <summary>Checks server-final-message (RFC 5802 §5.1 v=); a mismatch means the server is not who it claims.</summary>
    public void VerifyServerFinal(string serverFinal)
    {
        if (_serverSignature is null)
        {
            throw new InvalidOperationException("ClientFinal must be called first.");
        }

        Dictionary<char, string> attrs = ParseAttributes(serverFinal);
        if (attrs.TryGetValue('e', out string? error))
        {
            throw new SaslException($"SCRAM server reported error '{error}'.");
        }

        byte[] actual;
        try
        {
            actual = attrs.TryGetValue('v', out string? v) ? Convert.FromBase64String(v) : [];
        }
        catch (FormatException)
        {
            throw new SaslException("SCRAM server signature is not base64.");
        }

        if (!CryptographicOperations.FixedTimeEquals(actual, _serverSignature))
        {
            throw new SaslException("SCRAM server signature does not match: the server does not know the password (possible impostor).");
        }
    }

    private byte[] Hmac(byte[] key, string text)
    {
        byte[] data = Encoding.UTF8.GetBytes(text);
        if (_hash == HashAlgorithmName.SHA256)
        {
            return HMACSHA256.HashData(key, data);
        }

        // SCRAM-SHA-1 is the mandatory-to-implement XMPP mechanism (RFC 6120 §13.8.2); HMAC-SHA-1 is still sound as a MAC.
#pragma warning disable CA5350
        return HMACSHA1.HashData(key, data);
#pragma warning restore CA5350
    }

    // RFC 5802 §5.1: ',' and '=' in the username are escaped as =2C and =3D.
    private static string EscapeName(string name) => name.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);

    private static Dictionary<char, string> ParseAttributes(string message)
    {
        var result = new Dictionary<char, string>();
        foreach (string part in message.Split(','))
        {
            if (part.Length >= 2 && part[1] == '=')
            {
                result[part[0]] = part[2..];
            }
        }

        return result;
    }
}
