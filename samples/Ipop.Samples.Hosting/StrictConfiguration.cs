using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Ipop.Samples.Hosting;

/// <summary>
/// Reads a JSON config file and checks its keys against the options types before anything is bound, so every error
/// names the key path as the user wrote it (<c>Interface:Nmae</c>, <c>Peers:0:AllowedIps</c>) and what was expected,
/// instead of the binder's messages about internal types. Shared by <c>ipop-tincan</c> (linked source) and the sample
/// hosts.
/// </summary>
internal static class StrictConfiguration
{
    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Loads <paramref name="file"/>; on a JSON syntax error returns null and a message with the line and position.</summary>
    public static IConfigurationRoot? TryLoad(FileInfo file, out string? error)
    {
        error = null;
        if (!file.Exists)
        {
            error = $"configuration file '{file.FullName}' does not exist.";
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{file.Name}: cannot read the file: {e.Message}";
            return null;
        }

        // The configuration provider reports only "Could not parse the JSON file"; parsing here first gets the position.
        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes, JsonOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = $"{file.Name}: the file must hold one JSON object ({{ ... }}), got a {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.";
                return null;
            }
        }
        catch (JsonException e)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"{file.Name}: line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1}: invalid JSON: {WithoutPosition(e.Message)}");
            return null;
        }

        try
        {
            return new ConfigurationBuilder().AddJsonStream(new MemoryStream(bytes)).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            // Valid JSON the provider still refuses: a key that appears twice with different case.
            error = $"{file.Name}: {e.Message}";
            return null;
        }
    }

    /// <summary>
    /// Checks every key under <paramref name="section"/> against <paramref name="type"/>'s public properties (names
    /// match case-insensitively, as the binder does) and every value against the property's type.
    /// </summary>
    public static void Check(IConfigurationSection section, Type type, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(errors);
        if (section.Value is { } value && !section.GetChildren().Any())
        {
            errors.Add($"{section.Path} must be an object with keys {KnownKeys(type)}, got '{value}'.");
            return;
        }

        CheckObject(section, section.Path, type, errors);
    }

    /// <summary>Checks a whole file against <paramref name="type"/>, the type its top level binds to.</summary>
    public static void CheckRoot(IConfiguration root, Type type, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(errors);
        CheckObject(root, "the file", type, errors);
    }

    private static void CheckObject(IConfiguration section, string owner, Type type, List<string> errors)
    {
        Dictionary<string, PropertyInfo> properties = Properties(type);
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out PropertyInfo? property))
            {
                errors.Add($"{child.Path} is not a known key; {owner} takes {KnownKeys(type)}.");
                continue;
            }

            CheckValue(child, property.PropertyType, errors);
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, List<string> errors)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        bool hasChildren = section.GetChildren().Any();
        if (IsScalar(type))
        {
            if (hasChildren)
            {
                errors.Add($"{section.Path} must be {Describe(type)}, got an object or a list.");
                return;
            }

            if (section.Value is { Length: > 0 } text && !TryConvert(text, type))
            {
                errors.Add($"{section.Path} must be {Describe(type)}, got '{text}'.");
            }

            return;
        }

        if (ElementType(type) is { } element)
        {
            if (!hasChildren)
            {
                if (section.Value is { Length: > 0 } text)
                {
                    errors.Add($"{section.Path} must be a JSON list [ ... ] (items: {Describe(element)}), got the single value '{text}'.");
                }

                return;
            }

            foreach (IConfigurationSection item in section.GetChildren())
            {
                if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"{section.Path} must be a JSON list [ ... ] (items: {Describe(element)}), got an object with key '{item.Key}'.");
                    return;
                }

                CheckValue(item, element, errors);
            }

            return;
        }

        if (DictionaryValueType(type) is { } valueType)
        {
            foreach (IConfigurationSection item in section.GetChildren())
            {
                CheckValue(item, valueType, errors);
            }

            return;
        }

        if (!hasChildren)
        {
            if (section.Value is { Length: > 0 } text)
            {
                errors.Add($"{section.Path} must be an object with keys {KnownKeys(type)}, got '{text}'.");
            }

            return;
        }

        CheckObject(section, section.Path, type, errors);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) ||
        type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid) || type == typeof(Uri) ||
        (!typeof(IEnumerable).IsAssignableFrom(type) && TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string)));

    private static bool TryConvert(string text, Type type)
    {
        if (type == typeof(string))
        {
            return true;
        }

        if (type.IsEnum)
        {
            return Enum.TryParse(type, text, ignoreCase: true, out _);
        }

        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(text);
            return true;
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException or OverflowException || e.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return "a string";
        }

        if (type == typeof(int) || type == typeof(long) || type == typeof(short))
        {
            return "a whole number";
        }

        if (type == typeof(bool))
        {
            return "true or false";
        }

        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return "a number";
        }

        if (type == typeof(TimeSpan))
        {
            return "a duration such as 00:00:05 (hh:mm:ss)";
        }

        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        return IsScalar(type) ? $"a {type.Name} value" : $"an object with keys {KnownKeys(type)}";
    }

    private static Type? ElementType(Type type)
    {
        if (type == typeof(string))
        {
            return null;
        }

        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (type.IsGenericType && type.GetGenericArguments().Length == 1 && typeof(IEnumerable).IsAssignableFrom(type))
        {
            return type.GetGenericArguments()[0];
        }

        return null;
    }

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericArguments().Length == 2 && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1]
            : null;

    private static Dictionary<string, PropertyInfo> Properties(Type type)
    {
        var map = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length == 0 && (p.CanWrite || ElementType(p.PropertyType) is not null || DictionaryValueType(p.PropertyType) is not null))
            {
                string name = p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? p.Name;
                map.TryAdd(name, p);
            }
        }

        return map;
    }

    private static string KnownKeys(Type type) => string.Join(", ", Properties(type).Keys);

    private static string WithoutPosition(string message)
    {
        // "... Path: $.Peers[0] | LineNumber: 3 | BytePositionInLine: 0." — the position is already in front.
        foreach (string marker in (string[])[" Path: ", " LineNumber: "])
        {
            int cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0)
            {
                message = message[..cut];
            }
        }

        return message.TrimEnd();
    }
}
