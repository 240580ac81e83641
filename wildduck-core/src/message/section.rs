//! FETCH section extraction (BODY[...]) from the stored tree without re-parsing the message.
