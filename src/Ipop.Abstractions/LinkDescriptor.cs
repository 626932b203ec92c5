using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Ipop;

/// <summary>
/// Everything a peer needs to reach this node: its static public key, its candidates, and the
/// short-term credentials that authenticate connectivity checks. Sent over signaling
/// (an XMPP message, the controller API, a test) as compact JSON.
/// </summary>
/// <param name="Key">The node's static X25519 public key.</param>
/// <param name="Candidates">Transport candidates, best first.</param>
/// <param name="CheckUsername">
/// ICE-style username fragment for connectivity checks (4..256 characters in the JSON form). Empty in a descriptor
/// built by hand (a statically configured peer): the link then skips the checks and handshakes on every candidate.
/// </param>
/// <param name="CheckPassword">ICE-style password, mixed with both nodes' keys into each link's check MESSAGE-INTEGRITY key (22..256 characters in the JSON form; empty with an empty username).</param>
public sealed record LinkDescriptor(NodePublicKey Key, ImmutableArray<Candidate> Candidates, string CheckUsername, string CheckPassword)
{
    /// <summary>The descriptor format version written by <see cref="ToJson"/>.</summary>
    internal const int FormatVersion = 1;

    /// <summary>Largest accepted encoded descriptor; a bound against hostile peers.</summary>
    public const int MaxEncodedLength = 16 * 1024;

    /// <summary>Most candidates accepted in one descriptor.</summary>
    public const int MaxCandidates = 32;

    /// <summary>
    /// True for the static form: no check credentials (a peer configured by hand). The link skips connectivity checks
    /// and handshakes on every candidate; signaling-based controllers refuse such descriptors from the network.
    /// </summary>
    public bool IsStatic => CheckUsername.Length == 0 && CheckPassword.Length == 0;

    /// <summary>Encodes the descriptor as compact JSON.</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("v", FormatVersion);
            writer.WriteString("key", Key.ToString());
            writer.WriteString("ufrag", CheckUsername);
            writer.WriteString("pwd", CheckPassword);
            writer.WriteStartArray("candidates");
            foreach (Candidate c in Candidates)
            {
                writer.WriteStartObject();
                writer.WriteString("type", TypeName(c.Type));
                writer.WriteString("addr", c.EndPoint.Address.ToString());
                writer.WriteNumber("port", c.EndPoint.Port);
                writer.WriteNumber("prio", c.Priority);
                writer.WriteString("foundation", c.Foundation);
                if (c.Server is not null)
                {
                    writer.WriteString("server", c.Server);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Parses a descriptor produced by <see cref="ToJson"/>; unknown fields are ignored.</summary>
    /// <exception cref="FormatException">The text is not a valid descriptor; the message names the field at fault.</exception>
    public static LinkDescriptor Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxEncodedLength)
        {
            throw new FormatException($"Link descriptor is {json.Length} characters; at most {MaxEncodedLength} are accepted.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"Link descriptor is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("Link descriptor must be a JSON object.");
            }

            int version = RequiredInt(root, "v", null);
            if (version != FormatVersion)
            {
                throw new FormatException($"Link descriptor field 'v': expected {FormatVersion}, got {version}.");
            }

            string keyText = RequiredString(root, "key", null);
            if (!NodePublicKey.TryParse(keyText, out NodePublicKey key))
            {
                throw new FormatException("Link descriptor field 'key': expected base64 of a 32-byte X25519 public key.");
            }

            // Both empty is the static form (a peer configured by hand: no connectivity checks), which must round-trip
            // like any other; one empty and one not is a mistake worth naming.
            string ufrag = RequiredString(root, "ufrag", null);
            if (ufrag.Length != 0 && ufrag.Length is < 4 or > 256)
            {
                throw new FormatException($"Link descriptor field 'ufrag': expected 4..256 characters (or empty together with 'pwd' for a static peer), got {ufrag.Length}.");
            }

            string pwd = RequiredString(root, "pwd", null);
            if ((ufrag.Length == 0) != (pwd.Length == 0))
            {
                string empty = ufrag.Length == 0 ? "ufrag" : "pwd";
                string other = ufrag.Length == 0 ? "pwd" : "ufrag";
                throw new FormatException($"Link descriptor field '{empty}': empty, but '{other}' is not; both are empty only for a static peer.");
            }

            if (pwd.Length != 0 && pwd.Length is < 22 or > 256)
            {
                throw new FormatException($"Link descriptor field 'pwd': expected 22..256 characters (or empty together with 'ufrag' for a static peer), got {pwd.Length}.");
            }

            if (!root.TryGetProperty("candidates", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("Link descriptor field 'candidates': expected an array.");
            }

            if (list.GetArrayLength() > MaxCandidates)
            {
                throw new FormatException($"Link descriptor field 'candidates': at most {MaxCandidates} candidates, got {list.GetArrayLength()}.");
            }

            ImmutableArray<Candidate>.Builder candidates = ImmutableArray.CreateBuilder<Candidate>();
            int index = 0;
            foreach (JsonElement item in list.EnumerateArray())
            {
                candidates.Add(ParseCandidate(item, index++));
            }

            return new LinkDescriptor(key, candidates.ToImmutable(), ufrag, pwd);
        }
    }

    private static Candidate ParseCandidate(JsonElement item, int index)
    {
        string where = $"candidates[{index.ToString(CultureInfo.InvariantCulture)}]";
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"Link descriptor field '{where}': expected an object.");
        }

        string typeText = RequiredString(item, "type", where);
        CandidateType type = typeText switch
        {
            "host" => CandidateType.Host,
            "srflx" => CandidateType.ServerReflexive,
            "prflx" => CandidateType.PeerReflexive,
            "relay" => CandidateType.Relayed,
            _ => throw new FormatException($"Link descriptor field '{where}.type': expected host, srflx, prflx or relay, got '{typeText}'."),
        };
        string addrText = RequiredString(item, "addr", where);
        if (!IPAddress.TryParse(addrText, out IPAddress? address))
        {
            throw new FormatException($"Link descriptor field '{where}.addr': expected an IP address, got '{addrText}'.");
        }

        int port = RequiredInt(item, "port", where);
        if (port is < 1 or > 65535)
        {
            throw new FormatException($"Link descriptor field '{where}.port': expected 1..65535, got {port}.");
        }

        if (!item.TryGetProperty("prio", out JsonElement prioElement) || prioElement.ValueKind != JsonValueKind.Number || !prioElement.TryGetUInt32(out uint priority))
        {
            throw new FormatException($"Link descriptor field '{where}.prio': expected an unsigned 32-bit number.");
        }

        string foundation = item.TryGetProperty("foundation", out JsonElement f) && f.ValueKind == JsonValueKind.String ? Text(f, Field(where, "foundation")) : string.Empty;
        string? server = item.TryGetProperty("server", out JsonElement s) && s.ValueKind == JsonValueKind.String ? Text(s, Field(where, "server")) : null;
        return new Candidate(type, new IPEndPoint(address, port), priority, foundation, server);
    }

    private static string RequiredString(JsonElement obj, string name, string? where)
    {
        if (!obj.TryGetProperty(name, out JsonElement e) || e.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"Link descriptor field '{Field(where, name)}': expected a string.");
        }

        return Text(e, Field(where, name));
    }

    // GetString throws InvalidOperationException for an escaped lone surrogate ("\ud800"), which is valid JSON but not
    // text (found by fuzzing: fuzz/corpus/link-negotiation/crash-lone-surrogate).
    private static string Text(JsonElement e, string field)
    {
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw new FormatException($"Link descriptor field '{field}': not valid text (an escaped lone UTF-16 surrogate).", ex);
        }
    }

    private static int RequiredInt(JsonElement obj, string name, string? where)
    {
        if (!obj.TryGetProperty(name, out JsonElement e) || e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int value))
        {
            throw new FormatException($"Link descriptor field '{Field(where, name)}': expected an integer.");
        }

        return value;
    }

    private static string Field(string? where, string name) => where is null ? name : $"{where}.{name}";

    private static string TypeName(CandidateType type) => type switch
    {
        CandidateType.Host => "host",
        CandidateType.ServerReflexive => "srflx",
        CandidateType.PeerReflexive => "prflx",
        _ => "relay",
    };
}
