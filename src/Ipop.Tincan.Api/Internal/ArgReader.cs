using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// Typed access to a request's <c>args</c> object. Every failure is an <c>invalid_args</c> error whose
/// message names the field (<c>args.mtu</c>), what was expected and what arrived. Unknown fields are ignored
/// so newer controllers can talk to older servers.
/// </summary>
internal readonly struct ArgReader(JsonElement args)
{
    public bool Has(string name) => args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out JsonElement e) && e.ValueKind != JsonValueKind.Null;

    public JsonElement Raw => args;

    public string RequiredString(string name, string expected)
    {
        if (!TryGet(name, out JsonElement e))
        {
            throw Invalid(name, expected, "nothing");
        }

        return e.ValueKind == JsonValueKind.String ? Text(e, "args." + name) : throw Invalid(name, expected, Describe(e));
    }

    public string? OptionalString(string name, string expected)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return null;
        }

        return e.ValueKind == JsonValueKind.String ? Text(e, "args." + name) : throw Invalid(name, expected, Describe(e));
    }

    public int OptionalInt(string name, int defaultValue, int min, int max)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return defaultValue;
        }

        string expected = string.Create(CultureInfo.InvariantCulture, $"an integer between {min} and {max}");
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int value) && value >= min && value <= max
            ? value
            : throw Invalid(name, expected, Describe(e));
    }

    public bool OptionalBool(string name, bool defaultValue)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return defaultValue;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(name, "true or false", Describe(e)),
        };
    }

    public IReadOnlyList<string> OptionalStringArray(string name, int maxItems, string expectedItem)
    {
        if (!TryGet(name, out JsonElement e))
        {
            return [];
        }

        string expected = string.Create(CultureInfo.InvariantCulture, $"an array of at most {maxItems} strings ({expectedItem})");
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() > maxItems)
        {
            throw Invalid(name, expected, Describe(e));
        }

        var items = new List<string>(e.GetArrayLength());
        int index = 0;
        foreach (JsonElement item in e.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw Invalid(string.Create(CultureInfo.InvariantCulture, $"{name}[{index}]"), expectedItem, Describe(item));
            }

            items.Add(Text(item, string.Create(CultureInfo.InvariantCulture, $"args.{name}[{index}]")));
            index++;
        }

        return items;
    }

    public bool TryGet(string name, out JsonElement value)
    {
        if (args.ValueKind == JsonValueKind.Object && args.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>
    /// A JSON string's text. An escaped lone UTF-16 surrogate (<c>"\ud800"</c>) is valid JSON but not text, and
    /// <see cref="JsonElement.GetString"/> throws InvalidOperationException for it; this names the field instead.
    /// </summary>
    public static string Text(JsonElement e, string field, string code = ApiErrorCodes.InvalidArgs) =>
        TryText(e, out string? text) ? text : throw new ApiException(code, $"{field}: expected text, got a string with an escaped lone UTF-16 surrogate.");

    public static bool TryText(JsonElement e, [NotNullWhen(true)] out string? text)
    {
        try
        {
            text = e.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    public static ApiException Invalid(string field, string expected, string got) =>
        new(ApiErrorCodes.InvalidArgs, $"args.{field}: expected {expected}, got {got}.");

    public static ApiException Invalid(string field, string problem) => new(ApiErrorCodes.InvalidArgs, $"args.{field}: {problem}");

    /// <summary>Describes a JSON value for an error message, shortened so a hostile value cannot flood logs or replies.</summary>
    public static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => TryText(e, out string? text) ? "the string " + Quote(text) : "a string that is not valid text",
        JsonValueKind.Number => "the number " + Shorten(e.GetRawText()),
        JsonValueKind.True or JsonValueKind.False => e.GetRawText(),
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "nothing",
    };

    public static string Quote(string s) => "'" + Shorten(s) + "'";

    private static string Shorten(string s) => s.Length <= 64 ? s : s[..64] + "...";
}
