namespace Ipop.Testing;

/// <summary>The user names the in-memory network accepts: bare JIDs (<c>user@domain</c>), compared in lower case.</summary>
internal static class UserIds
{
    /// <summary>The bare, lower-case form of <paramref name="user"/> (a resource, if any, is dropped).</summary>
    public static bool TryBare(string? user, bool allowResource, out string bare)
    {
        bare = string.Empty;
        if (string.IsNullOrWhiteSpace(user))
        {
            return false;
        }

        int slash = user.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && (!allowResource || slash == user.Length - 1))
        {
            return false;
        }

        string head = slash >= 0 ? user[..slash] : user;
        int at = head.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == head.Length - 1 || head.IndexOf('@', at + 1) >= 0 || head.Any(char.IsWhiteSpace))
        {
            return false;
        }

        bare = head.ToLowerInvariant();
        return true;
    }

    public static string Bare(string user, string paramName, bool allowResource = true) =>
        TryBare(user, allowResource, out string bare) ? bare : throw new ArgumentException($"'{user}' is not a user JID (user@domain).", paramName);

    /// <summary>The checks XmppSignaling makes on every message it sends.</summary>
    public static void ValidateMessage(OverlayMessage message)
    {
        if (message.Kind is not { Length: > 0 and <= 64 } kind || !kind.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            throw new ArgumentException($"Message kind '{message.Kind}' must be 1..64 letters, digits or '-'.", nameof(message));
        }

        if (message.Body is null || message.Body.Length > OverlayMessage.MaxBodyLength)
        {
            throw new ArgumentException($"Message body must be at most {OverlayMessage.MaxBodyLength} characters.", nameof(message));
        }
    }
}
