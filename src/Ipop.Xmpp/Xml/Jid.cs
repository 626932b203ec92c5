using System.Diagnostics.CodeAnalysis;

namespace Ipop.Xmpp.Xml;

/// <summary>
/// A JID (RFC 7622) split into local part, domain and resource. Local part and domain are compared
/// case-insensitively (a lower-case fold stands in for the full PRECIS profiles, which only servers
/// must apply); the resource is case-sensitive.
/// </summary>
internal readonly record struct Jid(string? Local, string Domain, string? Resource)
{
    public string Bare => Local is null ? Domain : $"{Local}@{Domain}";

    public string Full => Resource is null ? Bare : $"{Bare}/{Resource}";

    public bool IsBare => Resource is null;

    public Jid ToBare() => this with { Resource = null };

    public override string ToString() => Full;

    public static bool TryParse([NotNullWhen(true)] string? text, out Jid jid)
    {
        jid = default;
        if (string.IsNullOrEmpty(text) || text.Length > 3071)
        {
            return false;
        }

        string? resource = null;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string head = text;
        if (slash >= 0)
        {
            resource = text[(slash + 1)..];
            head = text[..slash];
            if (resource.Length == 0)
            {
                return false;
            }
        }

        string? local = null;
        int at = head.IndexOf('@', StringComparison.Ordinal);
        string domain = head;
        if (at >= 0)
        {
            local = head[..at];
            domain = head[(at + 1)..];
            if (local.Length == 0)
            {
                return false;
            }
        }

        if (domain.Length == 0 || domain.Contains('@', StringComparison.Ordinal) || domain.Any(char.IsWhiteSpace) || (local?.Any(char.IsWhiteSpace) ?? false))
        {
            return false;
        }

        jid = new Jid(local?.ToLowerInvariant(), domain.TrimEnd('.').ToLowerInvariant(), resource);
        return true;
    }

    public static Jid Parse(string text)
        => TryParse(text, out Jid jid) ? jid : throw new FormatException($"'{text}' is not a valid JID.");
}
